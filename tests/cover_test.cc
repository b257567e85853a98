// The kernel coverage page (reports/cover.h) and the PC set behind it (probe/kcov_pcs.h),
// on fixed addr2line and objdump output: PCs to lines, seed against fuzzing, rendering.
#include <gtest/gtest.h>

#include "probe/kcov_pcs.h"
#include "reports/cover.h"

namespace inflight {
namespace {

TEST(KernelPcSet, SeedWinsAndTextRoundTrips) {
  KernelPcSet s;
  const uint64_t a[] = {0xffffffff81000010, 0xffffffff81000020, 0xffffffff81000010};
  EXPECT_EQ(s.Add(a, 3, false), 2u);
  EXPECT_EQ(s.seed_count(), 0u);
  const uint64_t b[] = {0xffffffff81000020, 0xffffffff81000030};
  EXPECT_EQ(s.Add(b, 2, true), 1u);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.seed_count(), 2u) << "a PC a seed reached later is a seed PC";
  EXPECT_FALSE(s.BySeed(0xffffffff81000010));
  EXPECT_TRUE(s.BySeed(0xffffffff81000020));
  const std::string text = s.ToText();
  EXPECT_EQ(text,
            "# inflight kernel pcs 1\n"
            "ffffffff81000010 fuzz\n"
            "ffffffff81000020 seed\n"
            "ffffffff81000030 seed\n");
  KernelPcSet back;
  std::string why;
  ASSERT_TRUE(KernelPcSet::FromText(text, back, &why)) << why;
  EXPECT_EQ(back.ToText(), text);
  KernelPcSet other;
  const uint64_t c[] = {0xffffffff81000010};
  other.Add(c, 1, true);
  back.Merge(other);
  EXPECT_TRUE(back.BySeed(0xffffffff81000010));
  EXPECT_EQ(back.seed_count(), 3u);
}

TEST(KernelPcSet, MalformedLinesAreNamed) {
  KernelPcSet s;
  std::string why;
  EXPECT_FALSE(KernelPcSet::FromText("# inflight kernel pcs 1\nffff0 seed\nzz seed\n", s, &why));
  EXPECT_NE(why.find("line 3"), std::string::npos) << why;
  EXPECT_FALSE(KernelPcSet::FromText("ffff0 maybe\n", s, &why));
  EXPECT_NE(why.find("line 1"), std::string::npos) << why;
}

TEST(Cover, CoveredFilesMatchWholePathComponents) {
  EXPECT_EQ(CoveredFile("/src/linux/net/unix/garbage.c"), "net/unix/garbage.c");
  EXPECT_EQ(CoveredFile("net/unix/af_unix.c"), "net/unix/af_unix.c");
  EXPECT_EQ(CoveredFile("/src/linux/net/core/scm.c"), "net/core/scm.c");
  EXPECT_EQ(CoveredFile("/src/linux/fs/file.c"), "fs/file.c");
  EXPECT_EQ(CoveredFile("/src/linux/fs/xfs/file.c"), "");
  EXPECT_EQ(CoveredFile("/src/linux/include/linux/list.h"), "");
  EXPECT_EQ(CoveredFile("/src/linux/net/unix/af_unix.h"), "");
  EXPECT_EQ(CoveredFile("/src/linux/xnet/unix/garbage.c"), "");
  EXPECT_EQ(CoveredFile("??"), "");
}

// addr2line -a -f -i for pc - 1 of four call sites: one inlined from a header into
// unix_gc, one in __unix_gc, one in scm.c, one elsewhere.
constexpr const char* kAddr2Line =
    "0xffffffff8150000f\n"
    "list_empty\n"
    "/k/include/linux/list.h:373\n"
    "unix_gc\n"
    "/k/net/unix/garbage.c:600 (discriminator 1)\n"
    "0xffffffff8150001f\n"
    "unix_gc\n"
    "/k/net/unix/garbage.c:602\n"
    "0xffffffff8150002f\n"
    "__unix_gc\n"
    "/k/net/unix/garbage.c:560\n"
    "0xffffffff8150003f\n"
    "scm_fp_copy\n"
    "/k/net/core/scm.c:80\n"
    "0xffffffff8150004f\n"
    "kmalloc\n"
    "/k/include/linux/slab.h:10\n"
    "0xffffffff8150005f\n"
    "??\n"
    "??:0\n";

TEST(Cover, Addr2LineFramesInnermostFirst) {
  std::vector<PcFrames> f;
  std::string why;
  ASSERT_TRUE(ParseAddr2Line(kAddr2Line, f, &why)) << why;
  ASSERT_EQ(f.size(), 6u);
  EXPECT_EQ(f[0].pc, 0xffffffff81500010u) << "the KCOV PC is the looked-up address + 1";
  ASSERT_EQ(f[0].frames.size(), 2u);
  EXPECT_EQ(f[0].frames[0].function, "list_empty");
  EXPECT_EQ(f[0].frames[1].function, "unix_gc");
  EXPECT_EQ(f[0].frames[1].file, "/k/net/unix/garbage.c");
  EXPECT_EQ(f[0].frames[1].line, 600) << "the discriminator is not part of the line";
  EXPECT_EQ(f[5].frames[0].file, "??");
  EXPECT_EQ(f[5].frames[0].line, 0);
  std::vector<PcFrames> bad;
  EXPECT_FALSE(ParseAddr2Line("0xffffffff81000000\nunix_gc\n", bad, &why));
  EXPECT_NE(why.find("line 2"), std::string::npos) << why;
}

TEST(Cover, ObjdumpCallSitesAreTheReturnAddresses) {
  const char* dump =
      "ffffffff81500000 <unix_gc>:\n"
      "ffffffff81500000:\tpush   %rbx\n"
      "ffffffff8150000a:\tcall   ffffffff81100000 <__sanitizer_cov_trace_pc>\n"
      "ffffffff8150000f:\tmov    %rax,%rbx\n"
      "ffffffff81500012:\tcall   ffffffff81200000 <kfree>\n"
      "ffffffff81500017:\tcall   ffffffff81100000 <__sanitizer_cov_trace_pc>\n"
      "ffffffff8150001c:\tret\n";
  EXPECT_EQ(ParseKcovCallSites(dump),
            (std::vector<uint64_t>{0xffffffff8150000f, 0xffffffff8150001c}));
}

CoverModel Model(KernelPcSet& reached) {
  std::vector<PcFrames> f;
  std::string why;
  EXPECT_TRUE(ParseAddr2Line(kAddr2Line, f, &why)) << why;
  return BuildCoverModel(f, reached);
}

TEST(Cover, LinesAndFunctionsBySeedAndFuzzing) {
  KernelPcSet reached;
  const uint64_t seed[] = {0xffffffff81500010};
  const uint64_t fuzz[] = {0xffffffff81500020, 0xffffffff81500040, 0xffffffff81500050,
                           0xffffffff8150ff00};
  reached.Add(seed, 1, true);
  reached.Add(fuzz, 4, false);
  const CoverModel m = Model(reached);
  ASSERT_EQ(m.files.size(), 2u);
  const FileCover& g = m.files.at("net/unix/garbage.c");
  EXPECT_EQ(g.pcs, 3u);
  EXPECT_EQ(g.seed, 1u);
  EXPECT_EQ(g.fuzz, 1u);
  EXPECT_EQ(g.lines.at(600), LineCover::kSeed) << "inlined list_empty counts in unix_gc";
  EXPECT_EQ(g.lines.at(602), LineCover::kFuzz);
  EXPECT_EQ(g.lines.at(560), LineCover::kMissed);
  ASSERT_EQ(g.functions.count("unix_gc"), 1u);
  EXPECT_EQ(g.functions.at("unix_gc").pcs, 2u);
  EXPECT_EQ(g.functions.at("unix_gc").first_line, 600);
  EXPECT_EQ(g.functions.at("__unix_gc").seed + g.functions.at("__unix_gc").fuzz, 0u);
  EXPECT_EQ(m.files.at("net/core/scm.c").lines.at(80), LineCover::kFuzz);
  EXPECT_EQ(m.reached_elsewhere, 1u) << "kmalloc is in no covered file";
  EXPECT_EQ(m.reached_unknown, 1u) << "0xffffffff8150ff00 is no call site";
  const auto j = CoverJson(m);
  EXPECT_EQ(j["pcs"], 4);
  EXPECT_EQ(j["pcs_seed"], 1);
  EXPECT_EQ(j["pcs_fuzz"], 2);
  EXPECT_EQ(j["files"][0]["file"], "net/core/scm.c") << "files in path order";
  const auto& gj = j["files"][1];
  EXPECT_EQ(gj["file"], "net/unix/garbage.c");
  EXPECT_EQ(gj["lines_seed"], nlohmann::json::array({600}));
  EXPECT_EQ(gj["lines_fuzz"], nlohmann::json::array({602}));
  EXPECT_EQ(gj["lines_missed"], nlohmann::json::array({560}));
  EXPECT_EQ(gj["functions"][0]["name"], "__unix_gc") << "functions in line order";
}

TEST(Cover, APcOfTwoStatesOnOneLineTakesTheBest) {
  std::vector<PcFrames> f = {{0x10, {{"f", "/k/fs/file.c", 7}}},
                             {0x20, {{"f", "/k/fs/file.c", 7}}},
                             {0x30, {{"f", "/k/fs/file.c", 7}}}};
  KernelPcSet r;
  const uint64_t fz[] = {0x20};
  r.Add(fz, 1, false);
  EXPECT_EQ(BuildCoverModel(f, r).files.at("fs/file.c").lines.at(7), LineCover::kFuzz);
  const uint64_t sd[] = {0x30};
  r.Add(sd, 1, true);
  EXPECT_EQ(BuildCoverModel(f, r).files.at("fs/file.c").lines.at(7), LineCover::kSeed);
}

TEST(Cover, PageMarksSourceLinesAndEscapes) {
  KernelPcSet reached;
  const uint64_t seed[] = {0xffffffff81500010};
  reached.Add(seed, 1, true);
  const CoverModel m = Model(reached);
  std::string src;
  for (int i = 1; i <= 610; ++i) src += i == 600 ? "\tif (a < b && c) /* <x> */\n" : "line\n";
  const std::string html = CoverHtml(
      m,
      [&](const std::string& f) -> std::optional<std::string> {
        if (f == "net/unix/garbage.c") return src;
        return std::nullopt;
      },
      "cover <test>");
  EXPECT_NE(html.find("<title>cover &lt;test&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"seed\" id=\"net_unix_garbage_c_L600\"><td class=\"n\">600</td>"
                      "<td class=\"c\">\tif (a &lt; b &amp;&amp; c) /* &lt;x&gt; */</td></tr>"),
            std::string::npos);
  EXPECT_NE(html.find("<tr class=\"missed\" id=\"net_unix_garbage_c_L560\">"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"\" id=\"net_unix_garbage_c_L1\">"), std::string::npos)
      << "lines without call sites are unmarked";
  EXPECT_NE(html.find("(source not at hand: lines only)"), std::string::npos)
      << "scm.c has no source here";
  EXPECT_NE(html.find("href=\"#net_unix_garbage_c_L600\">unix_gc</a>"), std::string::npos);
}

}  // namespace
}  // namespace inflight
