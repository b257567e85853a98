#!/usr/bin/python3
# Decodes a PNG screenshot (8-bit RGB or RGBA, not interlaced: what Chromium writes) with
# the standard library and prints "WIDTH HEIGHT NONWHITE_FRACTION RED_PIXELS COLOURS",
# so that a test can check the page shows something, and the drawing's red leftovers.
import struct
import sys
import zlib


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        print("not a PNG")
        return 1
    pos, idat = 8, b""
    width = height = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                print(f"unsupported PNG: depth {depth} colour {colour} interlace {interlace}")
                return 1
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    nonwhite = red = 0
    colours = set()
    i = 0
    for _ in range(height):
        ftype = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        for x in range(0, stride, bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if r < 240 or g < 240 or b < 240:
                nonwhite += 1
            if r > 150 and g < 90 and b < 90:
                red += 1
            if len(colours) < 100000:
                colours.add((r >> 3, g >> 3, b >> 3))
        prev = line
    print(f"{width} {height} {nonwhite / (width * height):.4f} {red} {len(colours)}")
    return 0


sys.exit(main())
