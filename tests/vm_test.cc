// inflight vm without booting anything: the results channel, kernel log reading, image
// checks, the initramfs writer (read back by cpio(1)), the guest's plan, modules, the
// report and exit status of each way a VM can end, the gate's fail-closed ruling, and the
// CLI's answers to bad input.
#include <fcntl.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "base/exit_codes.h"
#include "reports/compare.h"
#include "tests/test_util.h"
#include "vm/channel.h"
#include "vm/console.h"
#include "vm/gate_ruling.h"
#include "vm/guest_plan.h"
#include "vm/initramfs.h"
#include "vm/input_log.h"
#include "vm/kernel_image.h"
#include "vm/modules.h"
#include "vm/qemu.h"
#include "vm/vm_report.h"

namespace inflight {
namespace {

namespace fs = std::filesystem;
using testing::CliPath;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;

void WriteBytes(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

// A file with just enough of an x86 boot header to pass InspectKernelImage.
std::string FakeBzImage(const std::string& version = "6.99.0-fake (test@inflight) #1") {
  std::string img(0x4000, '\0');
  img[0x1f1] = 4;  // setup_sects
  img[0x1fe] = 0x55;
  img[0x1ff] = static_cast<char>(0xaa);
  memcpy(&img[0x202], "HdrS", 4);
  img[0x206] = 0x0f;  // protocol 2.15
  img[0x207] = 0x02;
  const uint16_t at = 0x300 - 0x200;
  img[0x20e] = static_cast<char>(at & 0xff);
  img[0x20f] = static_cast<char>(at >> 8);
  img[0x211] = 1;     // loaded high
  img[0x236] = 1;     // 64-bit entry
  img[0x1f5] = 0x02;  // syssize: 512 paragraphs, so the image must be 10752 bytes at least
  memcpy(&img[0x300], version.c_str(), version.size() + 1);
  return img;
}

// --- the channel ---

TEST(VmChannel, LinesRoundTrip) {
  const std::string line = EncodeChannelLine(ChannelKind::kOut, "a line\rwith\nbreaks");
  EXPECT_EQ(line, "@inflight out a line with breaks\n");
  auto m = ParseChannelLine(line.substr(0, line.size() - 1) + "\r");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, ChannelKind::kOut);
  EXPECT_EQ(m->payload, "a line with breaks");
  EXPECT_FALSE(ParseChannelLine("[    1.0] BUG: not a channel line"));
  EXPECT_FALSE(ParseChannelLine("@inflight nosuchkind x"));
  for (int k = 0; k <= static_cast<int>(ChannelKind::kMaxValue); ++k) {
    auto kind = static_cast<ChannelKind>(k);
    auto back = ParseChannelLine(EncodeChannelLine(kind, "x"));
    ASSERT_TRUE(back) << ChannelKindName(kind);
    EXPECT_EQ(back->kind, kind);
  }
}

TEST(VmChannel, Base64AndCrcMatchTheStandards) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += static_cast<char>(i * 37);
  for (size_t n = 0; n < 40; ++n)
    EXPECT_EQ(Base64Decode(Base64Encode(bytes.substr(0, n))), bytes.substr(0, n));
  EXPECT_FALSE(Base64Decode("Zg="));
  EXPECT_FALSE(Base64Decode("Z!=="));
  EXPECT_FALSE(Base64Decode("Zg==Zg=="));
}

TEST(VmChannel, FilesAreReassembledAndCheckedAcrossArbitraryChunks) {
  std::string report;
  for (int i = 0; i < 5000; ++i) report += static_cast<char>('a' + i % 26);
  const std::string stream = EncodeChannelLine(ChannelKind::kHello, "6.1.0 2.5") +
                             EncodeChannelFile("report.json", report) +
                             EncodeChannelLine(ChannelKind::kDone, "0 9.9");
  ChannelReader r;
  std::vector<ChannelMessage> got;
  for (size_t off = 0; off < stream.size(); off += 7)  // bytes arrive in odd pieces
    for (auto& m : r.Feed(std::string_view(stream).substr(off, 7))) got.push_back(m);
  ASSERT_EQ(got.size(), 4u);  // hello, begin, end, done: data lines are consumed
  EXPECT_EQ(got.front().kind, ChannelKind::kHello);
  EXPECT_EQ(got.back().kind, ChannelKind::kDone);
  ASSERT_EQ(r.files().count("report.json"), 1u);
  EXPECT_EQ(r.files().at("report.json"), report);
  EXPECT_TRUE(r.problems().empty());
}

TEST(VmChannel, IncompressibleAndEmptyFilesRoundTrip) {
  std::string noise;
  uint32_t x = 12345;
  for (int i = 0; i < 100'000; ++i) {
    x = x * 1103515245u + 12345u;
    noise += static_cast<char>(x >> 24);
  }
  for (const std::string& data : {noise, std::string()}) {
    ChannelReader r;
    r.Feed(EncodeChannelFile("f", data));
    ASSERT_EQ(r.files().count("f"), 1u) << data.size();
    EXPECT_EQ(r.files().at("f"), data);
  }
}

TEST(VmChannel, ADamagedFileIsRejectedNotTrusted) {
  std::string enc = EncodeChannelFile("report.json", std::string(3000, 'x'));
  // Drop one data line: the size and CRC no longer match.
  const size_t first = enc.find("@inflight data");
  enc.erase(first, enc.find('\n', first) - first + 1);
  ChannelReader r;
  r.Feed(enc);
  EXPECT_EQ(r.files().count("report.json"), 0u);
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_NE(r.problems()[0].find("arrived damaged"), std::string::npos) << r.problems()[0];
}

// --- the kernel log ---

constexpr const char* kConsole =
    "[    0.000000] Linux version 6.12.0 (x@y) #1 SMP\r\n"
    "[    1.234567] Run /init as init process\r\n"
    "[    3.100000] ------------[ cut here ]------------\r\n"
    "[    3.100001] WARNING: CPU: 1 PID: 57 at net/unix/garbage.c:210 "
    "unix_del_edges+0x1ad/0x1c0\r\n"
    "[    3.100002] Modules linked in: unix_diag\r\n"
    "[    3.100003] ---[ end trace 0000000000000000 ]---\r\n"
    "[    4.000000] WARNING: CPU: 0 PID: 99 at net/unix/garbage.c:212 "
    "unix_del_edges+0x1b0/0x1c0\r\n"
    "[    5.000000] BUG: KASAN: slab-use-after-free in unix_gc+0x3e/0x400\r\n"
    "[    5.500000] kernel BUG at net/unix/af_unix.c:1234!\r\n"
    "[    6.000000] Kernel panic - not syncing: Fatal exception\r\n"
    "[    6.000001] ---[ end Kernel panic - not syncing: Fatal exception ]---\r\n";

TEST(VmConsole, FindsFaultsWithStableSignatures) {
  auto faults = ScanKernelLog(kConsole);
  ASSERT_EQ(faults.size(), 4u);
  EXPECT_EQ(faults[0].kind, "WARNING");
  EXPECT_EQ(faults[0].signature, "WARNING: at net/unix/garbage.c unix_del_edges")
      << "line numbers, offsets, CPU and PID are not part of it: the second WARNING is the same";
  EXPECT_EQ(faults[0].line,
            "WARNING: CPU: 1 PID: 57 at net/unix/garbage.c:210 unix_del_edges+0x1ad/0x1c0");
  ASSERT_GE(faults[0].excerpt.size(), 3u);
  EXPECT_EQ(faults[0].excerpt.back(), "---[ end trace 0000000000000000 ]---");
  EXPECT_EQ(faults[1].kind, "KASAN");
  EXPECT_EQ(faults[1].signature, "BUG: KASAN: slab-use-after-free in unix_gc");
  EXPECT_EQ(faults[2].signature, "kernel BUG at net/unix/af_unix.c");
  EXPECT_EQ(faults[3].kind, "panic");
  EXPECT_EQ(faults[3].signature, "Kernel panic - not syncing: Fatal exception");
}

TEST(VmConsole, ACleanBootHasNoFaults) {
  EXPECT_TRUE(ScanKernelLog("[    0.1] Booting\n[    0.2] BUGS are fine in words\n"
                            "[    0.3] reboot: Power down\ninflight run: CLEAN\n")
                  .empty());
}

TEST(VmConsole, SignaturesDropNumbersButKeepNames) {
  EXPECT_EQ(FaultSignature("BUG: soft lockup - CPU#0 stuck for 22s! [inflight-sandb:123]"),
            "BUG: soft lockup - CPU#N stuck for Ns! [inflight-sandb:N]");
  EXPECT_EQ(FaultSignature("BUG: unable to handle page fault for address: ffff888003a1b000"),
            "BUG: unable to handle page fault for address: ?");
  EXPECT_EQ(KernelMessage("[   12.345678] [    T1] BUG: x\r"), "BUG: x");
  EXPECT_EQ(KernelMessage("BUG: without a timestamp"), "BUG: without a timestamp");
  EXPECT_TRUE(IsTerminalBootLine("XZ-compressed data is corrupt -- System halted"));
}

// --- kernel images ---

TEST(VmKernelImage, ReadsTheHeaderAndRejectsWhatIsNotABzImage) {
  TempDir d;
  WriteBytes(d.path() + "/bz", FakeBzImage());
  auto k = InspectKernelImage(d.path() + "/bz");
  ASSERT_TRUE(k) << k.error().Text();
  EXPECT_EQ(k->release, "6.99.0-fake");
  EXPECT_EQ(k->boot_protocol, 0x020f);

  auto missing = InspectKernelImage(d.path() + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().err, ENOENT);

  WriteBytes(d.path() + "/text", "#!/bin/sh\necho not a kernel\n");
  auto text = InspectKernelImage(d.path() + "/text");
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().Text().find("no x86 boot header"), std::string::npos);

  WriteBytes(d.path() + "/elf", std::string("\x7f"
                                            "ELF") +
                                    std::string(100, '\0'));
  auto elf = InspectKernelImage(d.path() + "/elf");
  ASSERT_FALSE(elf);
  EXPECT_NE(elf.error().Text().find("vmlinux"), std::string::npos);

  WriteBytes(d.path() + "/short", FakeBzImage().substr(0, 0x1000));
  auto shortened = InspectKernelImage(d.path() + "/short");
  ASSERT_FALSE(shortened);
  EXPECT_NE(shortened.error().Text().find("truncated"), std::string::npos);

  auto dir = InspectKernelImage(d.path());
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().Text().find("not a regular file"), std::string::npos);
}

// --- the initramfs ---

TEST(VmInitramfs, CpioReadsWhatWeWrite) {
  if (RunCommand("command -v cpio").status != 0) GTEST_SKIP() << "skipped: no cpio(1) here";
  TempDir d;
  const std::string archive = d.path() + "/a.cpio";
  {
    CpioWriter w(UniqueFd(::open(archive.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600)));
    ASSERT_TRUE(w.AddDir("/tmp", 01777));
    ASSERT_TRUE(w.AddFile("/deep/er/file.txt", "hello\n", 0644));
    ASSERT_TRUE(w.AddFile("/bin/tool", std::string(1001, 'z'), 0755));
    ASSERT_TRUE(w.AddFile("/empty", "", 0600));
    ASSERT_TRUE(w.AddCharDevice("/dev/console", 5, 1));
    ASSERT_TRUE(w.Finish());
    EXPECT_EQ(w.bytes() % 512, 0u);
  }
  auto list = RunCommand("cpio -itv --quiet < " + archive);
  EXPECT_EQ(list.status, 0) << list.out;
  for (const char* name :
       {"deep/er/file.txt", "deep/er", "bin/tool", "empty", "dev/console", "tmp"})
    EXPECT_NE(list.out.find(name), std::string::npos) << name << "\n" << list.out;
  EXPECT_NE(list.out.find("crw-------"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("drwxrwxrwt"), std::string::npos) << list.out;
  const std::string out = d.path() + "/x";
  fs::create_directory(out);
  auto extract = RunCommand("cd " + out +
                            " && cpio -id --quiet --no-absolute-filenames "
                            "--nonmatching 'dev/*' < " +
                            archive);
  EXPECT_EQ(extract.status, 0) << extract.out;
  EXPECT_EQ(ReadFile(out + "/deep/er/file.txt"), "hello\n");
  EXPECT_EQ(ReadFile(out + "/bin/tool"), std::string(1001, 'z'));
  struct stat st {};
  ASSERT_EQ(stat((out + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

// --- the guest's plan ---

TEST(VmGuestPlan, CopiesWhatTheArgumentsNameAndAddsTheReport) {
  TempDir d;
  fs::create_directories(d.path() + "/corpus/controls");
  WriteBytes(d.path() + "/corpus/a.scn", "scenario a\n");
  WriteBytes(d.path() + "/corpus/notes.txt", "not a scenario");
  WriteBytes(d.path() + "/corpus/controls/c.scn", "scenario c\n");
  WriteBytes(d.path() + "/one.scn", "scenario one\n");
  auto plan = PlanGuestRun({"run", "corpus", "one.scn", "--mode", "both", "-n", "3"}, d.path(),
                           d.path() + "/corpus");
  EXPECT_EQ(plan.command, "run");
  EXPECT_TRUE(plan.writes_report);
  EXPECT_EQ(plan.args,
            (std::vector<std::string>{"run", "corpus", "one.scn", "--mode", "both", "-n", "3",
                                      "--report", kGuestReportDir, "--global-tolerance", "1"}))
      << "the guest rules on the global counts";
  auto told = PlanGuestRun({"run", "one.scn", "--global-tolerance=0"}, d.path(), "/c");
  EXPECT_EQ(told.args.back(), kGuestReportDir) << "a tolerance given is kept";
  std::sort(plan.files.begin(), plan.files.end());
  EXPECT_EQ(plan.files,
            (std::vector<std::string>{d.path() + "/corpus/a.scn",
                                      d.path() + "/corpus/controls/c.scn", d.path() + "/one.scn"}))
      << "folders give their .scn files, nothing else";
  EXPECT_EQ(plan.cwd, d.path());
  EXPECT_TRUE(plan.env.empty());

  auto check = PlanGuestRun({"-v", "check", "-n", "2"}, d.path(), d.path() + "/corpus");
  EXPECT_EQ(check.command, "check");
  EXPECT_EQ(check.files.size(), 2u) << "check without --corpus takes the default corpus along";
  ASSERT_EQ(check.env.size(), 2u);
  EXPECT_EQ(check.env[0].first, kInputLogEnv) << "its fuzz smoke logs inputs to the console";
  EXPECT_EQ(check.env[1].first, "INFLIGHT_CORPUS");

  auto selftest = PlanGuestRun({"selftest"}, d.path(), d.path() + "/corpus");
  EXPECT_FALSE(selftest.writes_report);
  EXPECT_EQ(selftest.files, (std::vector<std::string>{d.path() + "/corpus/controls/c.scn"}));

  auto eq = PlanGuestRun({"check", "--corpus=" + d.path() + "/corpus"}, "/", "/nonexistent");
  EXPECT_EQ(eq.files.size(), 2u) << "--option=value paths are found too";
}

TEST(VmGuestPlan, RefusesWhatCannotRunInside) {
  EXPECT_THROW(PlanGuestRun({}, "/", "/c"), UsageError);
  EXPECT_THROW(PlanGuestRun({"-v"}, "/", "/c"), UsageError);
  EXPECT_THROW(PlanGuestRun({"vm", "--kernel", "x"}, "/", "/c"), UsageError);
  EXPECT_THROW(PlanGuestRun({"gate"}, "/", "/c"), UsageError);
  EXPECT_THROW(PlanGuestRun({"run", "x.scn", "--report", "out"}, "/", "/c"), UsageError);
  EXPECT_THROW(PlanGuestRun({"run", "x.scn", "--report=out"}, "/", "/c"), UsageError);
}

TEST(VmGuestPlan, StressFuzzAndOtherReportsComeBack) {
  TempDir d;
  auto stress = PlanGuestRun({"stress", "cycles", "-O", "cycles.nested=0", "--duration", "4s"},
                             d.path(), "/c");
  EXPECT_TRUE(stress.writes_report);
  EXPECT_EQ(stress.args,
            (std::vector<std::string>{"stress", "cycles", "-O", "cycles.nested=0", "--duration",
                                      "4s", "--report", kGuestReportDir}))
      << "its checkpoints come back in report.json";
  EXPECT_FALSE(PlanGuestRun({"stress", "--list"}, d.path(), "/c").writes_report)
      << "--list writes no report";
  EXPECT_FALSE(PlanGuestRun({"run", "--help"}, d.path(), "/c").writes_report);

  auto fuzz = PlanGuestRun({"fuzz", "--duration", "20s"}, d.path(), "/c");
  EXPECT_TRUE(fuzz.writes_report);
  EXPECT_EQ(fuzz.args,
            (std::vector<std::string>{"fuzz", "--duration", "20s", "--out", kGuestReportDir}));
  for (const char* out : {"--out", "--out=x", "-o", "-ox"})
    EXPECT_THROW(PlanGuestRun({"fuzz", out, "x"}, d.path(), "/c"), UsageError) << out;
  EXPECT_NO_THROW(PlanGuestRun({"stress", "-O", "cycles.nested=0"}, d.path(), "/c"))
      << "stress's -O is a stressor option, not an output";

  EXPECT_TRUE(fuzz.fuzzes) << "graph_fuzzer goes in, the whole out folder comes back";
  EXPECT_FALSE(fuzz.resumes);
  EXPECT_TRUE(PlanGuestRun({"fuzz", "--resume"}, d.path(), "/c").resumes);
  const auto env = [](const GuestPlan& p, const std::string& k) {
    for (const auto& [key, v] : p.env)
      if (key == k) return v;
    return std::string("<unset>");
  };
  EXPECT_EQ(env(fuzz, kInputLogEnv), "kmsg") << "inputs are logged to the console";
  EXPECT_EQ(env(fuzz, "INFLIGHT_CORPUS"), "/c") << "a fresh fuzz seeds from the corpus";
  auto seeded = PlanGuestRun({"fuzz", "--seeds", "x.scn"}, d.path(), "/c");
  EXPECT_EQ(env(seeded, "INFLIGHT_CORPUS"), "<unset>") << "--seeds names its own";
  EXPECT_TRUE(PlanGuestRun({"check"}, d.path(), "/c").fuzzes) << "check's fuzz smoke";
  EXPECT_FALSE(PlanGuestRun({"check", "--no-fuzz"}, d.path(), "/c").fuzzes);
  EXPECT_EQ(env(PlanGuestRun({"check", "--corpus", "x"}, d.path(), "/c"), "INFLIGHT_CORPUS"), "/c")
      << "check's fuzz smoke seeds from the default corpus, whatever --corpus says";
  EXPECT_EQ(env(PlanGuestRun({"check", "--corpus", "x", "--no-fuzz"}, d.path(), "/c"),
                "INFLIGHT_CORPUS"),
            "<unset>");
  EXPECT_FALSE(PlanGuestRun({"run", "x.scn"}, d.path(), "/c").fuzzes);
  EXPECT_FALSE(PlanGuestRun({"fuzz", "--help"}, d.path(), "/c").fuzzes);

  for (const char* cmd : {"minimize", "repro"}) {
    auto p = PlanGuestRun({cmd, "x.scn"}, d.path(), "/c");
    EXPECT_TRUE(p.writes_report) << cmd;
    EXPECT_EQ(p.args.back(), kGuestReportDir) << cmd;
  }
}

TEST(VmGuestPlan, JobFileRoundTrips) {
  GuestJob j;
  j.args = {"run", "corpus"};
  j.cwd = "/work";
  j.env = {{"INFLIGHT_CORPUS", "/c"}};
  j.modules = {"/lib/modules/unix_diag.ko"};
  j.inject = "bug";
  j.report_file = "/inflight/out/report.json";
  j.send_dir = "/inflight/out";
  GuestJob back;
  ASSERT_TRUE(GuestJobFromJson(nlohmann::json::parse(GuestJobToJson(j).dump()), back));
  EXPECT_EQ(back.args, j.args);
  EXPECT_EQ(back.cwd, j.cwd);
  EXPECT_EQ(back.env, j.env);
  EXPECT_EQ(back.modules, j.modules);
  EXPECT_EQ(back.inject, j.inject);
  EXPECT_EQ(back.report_file, j.report_file);
  EXPECT_EQ(back.send_dir, j.send_dir);
  EXPECT_FALSE(GuestJobFromJson(nlohmann::json::parse("{\"args\": 3}"), back));
}

// --- modules ---

TEST(VmModules, DependenciesComeFirstAndCompressedModulesAreUnpacked) {
  EXPECT_EQ(ModuleDepends(std::string("x\0license=GPL\0depends=a,b-c\0name=m\0", 34)),
            (std::vector<std::string>{"a", "b_c"}));
  EXPECT_TRUE(ModuleDepends("no modinfo here").empty());
  TempDir d;
  const std::string dir = d.path() + "/lib/modules/6.99.0-fake/kernel/net";
  fs::create_directories(dir);
  WriteBytes(dir + "/unix_diag.ko", std::string("ELF\0depends=sock-helper\0", 24));
  WriteBytes(dir + "/sock_helper.ko", std::string("ELF\0depends=\0", 13));
  auto plan = CollectModules(d.path(), "6.99.0-fake");
  ASSERT_TRUE(plan) << plan.error().Text();
  ASSERT_EQ(plan->modules.size(), 2u);
  EXPECT_EQ(plan->modules[0].name, "sock_helper");
  EXPECT_EQ(plan->modules[1].name, "unix_diag");
  EXPECT_TRUE(plan->notes.empty());

  auto wrong = CollectModules(d.path(), "5.0.0-other");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().Text().find("must match the kernel"), std::string::npos);

  if (RunCommand("command -v xz").status == 0) {
    ASSERT_EQ(RunCommand("xz " + dir + "/unix_diag.ko").status, 0);
    auto xz = CollectModules(d.path(), "6.99.0-fake");
    ASSERT_TRUE(xz) << xz.error().Text();
    ASSERT_EQ(xz->modules.size(), 2u);
    EXPECT_EQ(xz->modules[1].data, std::string("ELF\0depends=sock-helper\0", 24));
  }
  fs::remove_all(d.path() + "/lib");
  auto none = CollectModules(d.path(), "6.99.0-fake");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->modules.empty());
  ASSERT_EQ(none->notes.size(), 1u);
  EXPECT_NE(none->notes[0].find("unix_diag"), std::string::npos);
}

// --- QEMU's command line ---

TEST(VmQemu, CommandLineHasTheExitDeviceAndBothSerialPorts) {
  QemuSetup s;
  s.qemu = "/usr/bin/qemu-system-x86_64";
  s.kernel = "/k";
  s.initrd = "/i";
  s.append = GuestKernelCmdline();
  s.cpus = 2;
  s.console_socket = "/t/console.sock";
  s.channel_socket = "/t/channel.sock";
  auto a = QemuArgs(s);
  std::string all;
  for (const auto& x : a) all += x + " ";
  for (const char* want :
       {"-no-reboot", "isa-debug-exit,iobase=0xf4", "tcg,thread=multi", "path=/t/console.sock",
        "path=/t/channel.sock", "-kernel /k", "-initrd /i", "panic=-1", "console=ttyS0"})
    EXPECT_NE(all.find(want), std::string::npos) << want << " in " << all;
  s.accel = Accel::kKvm;
  all.clear();
  for (const auto& x : QemuArgs(s)) all += x + " ";
  EXPECT_NE(all.find("-accel kvm -cpu host"), std::string::npos) << all;
  Accel acc;
  EXPECT_TRUE(ParseAccel("tcg", acc));
  EXPECT_EQ(acc, Accel::kTcg);
  EXPECT_FALSE(ParseAccel("hvf", acc));
}

// --- the report and the exit status of every end ---

VmOutcome Completed(int status) {
  VmOutcome o;
  o.end = VmEnd::kCompleted;
  o.guest_status = status;
  o.expects_report = true;
  Report r;
  r.command = "run";
  RunRecord clean;
  clean.scenario = "self_ref_stream";
  r.runs.push_back(clean);
  o.guest_report = ReportToJson(r);
  o.counts = {{"before", "file-nr", {352, 0, 9223372036854775807}},
              {"settled", "file-nr", {352, 0, 9223372036854775807}}};
  return o;
}

TEST(VmReport, ExitStatusOfEveryEnd) {
  EXPECT_EQ(VmExitStatus(Completed(0)), kExitClean);
  EXPECT_EQ(VmExitStatus(Completed(1)), kExitFinding);
  EXPECT_EQ(VmExitStatus(Completed(2)), kExitUsage);
  EXPECT_EQ(VmExitStatus(Completed(3)), kExitEnvironment);
  EXPECT_EQ(VmExitStatus(Completed(127)), kExitInternal);
  VmOutcome lost = Completed(0);
  lost.guest_report.reset();
  EXPECT_EQ(VmExitStatus(lost), kExitInternal) << "clean without the report is no verdict";
  VmOutcome fault = Completed(0);
  fault.faults = ScanKernelLog(kConsole);
  EXPECT_EQ(VmExitStatus(fault), kExitFinding);
  VmOutcome o;
  for (auto [end, status] : {std::pair{VmEnd::kNoBoot, kExitNoBoot},
                             {VmEnd::kTimeout, kExitTimeout},
                             {VmEnd::kHang, kExitFinding},
                             {VmEnd::kCrashed, kExitFinding},
                             {VmEnd::kInterrupted, kExitInterrupted}}) {
    o.end = end;
    EXPECT_EQ(VmExitStatus(o), status) << VmEndName(end);
  }
}

TEST(VmReport, KernelFaultsBecomeFindingsTheGateSees) {
  VmConfig c;
  c.kernel = "/boot/vmlinuz";
  const VmOutcome clean = Completed(0);
  VmOutcome faulty = Completed(0);
  faulty.faults = ScanKernelLog(kConsole);
  auto a = BuildVmReport(c, clean, {"inflight", "vm"}, "2026-01-01T00:00:00Z");
  auto b = BuildVmReport(c, faulty, {"inflight", "vm"}, "2026-01-01T00:00:00Z");
  EXPECT_EQ(a["verdict"], "clean");
  EXPECT_EQ(a["command"], "vm");
  EXPECT_EQ(a["guest_command"], "run");
  EXPECT_EQ(a["vm"]["global_counts"]["file-nr"]["delta_settled"], 0);
  EXPECT_TRUE(a["vm"]["complete"].get<bool>());
  EXPECT_EQ(b["verdict"], "fault");
  EXPECT_EQ(b["counts"]["fault"], 4);
  EXPECT_EQ(b["counts"]["clean"], 1);
  EXPECT_EQ(b["runs"].size(), 5u);
  EXPECT_EQ(b["runs"][1]["scenario"], "[kernel] WARNING: at net/unix/garbage.c unix_del_edges");
  EXPECT_EQ(b["runs"][1]["file"], "console.log");
  EXPECT_FALSE(b["runs"][1]["faults"].empty()) << "the trace comes with it";
  auto cmp = CompareReports(a, b);
  EXPECT_TRUE(cmp.BIsWorse());
  ASSERT_EQ(cmp.introduced.size(), 4u);
  EXPECT_EQ(cmp.introduced[0], "fault|kernel|BUG: KASAN: slab-use-after-free in unix_gc");
  EXPECT_FALSE(CompareReports(b, b).BIsWorse());
}

TEST(VmReport, AHangOrACrashIsRecordedEvenWithoutAReport) {
  VmConfig c;
  VmOutcome hang;
  hang.end = VmEnd::kHang;
  hang.why = "the guest fell silent";
  auto j = BuildVmReport(c, hang, {}, "");
  EXPECT_EQ(j["verdict"], "hang");
  EXPECT_EQ(j["runs"][0]["scenario"], "[kernel] guest stopped responding");
  EXPECT_FALSE(j["vm"]["complete"].get<bool>());
  VmOutcome crash;
  crash.end = VmEnd::kCrashed;
  auto k = BuildVmReport(c, crash, {}, "");
  EXPECT_EQ(k["verdict"], "fault");
  VmOutcome stopped;
  stopped.end = VmEnd::kInterrupted;
  EXPECT_TRUE(BuildVmReport(c, stopped, {}, "")["interrupted"].get<bool>());
}

// --- the guest fuzzer's input log ---

std::string Console(const std::vector<std::string>& messages) {
  std::string out;
  double t = 1.0;
  for (const std::string& m : messages) out += fmt::format("[{:12.6f}] {}\r\n", t += 0.01, m);
  return out;
}

TEST(VmInputLog, InputsRoundTripThroughConsoleLines) {
  const std::string big(1024, '\xa5');  // the longest input: several lines
  const std::string small("\x01\x00\xff", 3);
  std::vector<std::string> lines = {"random kernel line"};
  for (const auto& l : InputLogLines(7, small)) lines.push_back(l);
  auto big_lines = InputLogLines(8, big);
  EXPECT_GT(big_lines.size(), 1u);
  for (const auto& l : big_lines) {
    EXPECT_LT(l.size(), 900u) << "a kmsg record holds under 1 KiB";
    lines.push_back(l);
  }
  for (const auto& l : InputLogLines(9, "")) lines.push_back(l);
  auto got = ParseInputLog(Console(lines));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id, 7u);
  EXPECT_EQ(got[0].bytes, small);
  EXPECT_EQ(got[1].bytes, big);
  EXPECT_EQ(got[2].id, 9u);
  EXPECT_EQ(got[2].bytes, "");
  EXPECT_EQ(ParseInputLog(Console(lines), 2).size(), 1u) << "only before the given line";
}

TEST(VmInputLog, AnInputCutOffByTheCrashIsDropped) {
  auto parts = InputLogLines(3, std::string(900, 'x'));
  ASSERT_GE(parts.size(), 2u);
  std::vector<std::string> lines = InputLogLines(2, "ok");
  lines.push_back(parts[0]);  // the rest never made it to the console
  lines.push_back("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000");
  auto got = ParseInputLog(Console(lines));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, 2u);
  lines = {parts[1], parts[0]};  // out of order: not an input
  EXPECT_TRUE(ParseInputLog(Console(lines)).empty());
}

TEST(VmReport, AGuestThatWentDownCarriesTheFuzzersLastInputs) {
  VmConfig c;
  VmOutcome o;
  o.end = VmEnd::kCrashed;
  o.why = "the guest went down";
  std::vector<std::string> lines;
  for (uint64_t id = 1; id <= 20; ++id)
    for (const auto& l : InputLogLines(id, std::string(id, 'a'))) lines.push_back(l);
  lines.push_back("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000");
  for (const auto& l : InputLogLines(21, "after")) lines.push_back(l);
  o.console = Console(lines);
  o.faults = ScanKernelLog(o.console);
  ASSERT_FALSE(o.faults.empty());
  auto in = SuspectInputs(o, 16);
  ASSERT_EQ(in.size(), 16u);
  EXPECT_EQ(in.front().id, 5u);
  EXPECT_EQ(in.back().id, 20u) << "the input logged after the panic line is not a suspect";
  auto j = BuildVmReport(c, o, {}, "");
  EXPECT_EQ(j["verdict"], "fault");
  ASSERT_EQ(j["vm"]["last_inputs"].size(), 16u);
  EXPECT_EQ(j["vm"]["last_inputs"][15]["input"], "last-inputs/input-20");
  bool named = false;
  for (const auto& f : j["runs"][0]["faults"])
    named |= f.get<std::string>().find("last-inputs/") != std::string::npos;
  EXPECT_TRUE(named) << j["runs"][0].dump(1);

  VmOutcome clean = Completed(0);
  clean.console = Console(InputLogLines(1, "x"));
  EXPECT_TRUE(SuspectInputs(clean).empty()) << "a run that ended well has no suspects";
}

TEST(VmReport, AReportWithFindingsIsAFindingWhateverTheSuiteSaid) {
  VmOutcome o = Completed(0);
  Report r;
  r.command = "stress";
  RunRecord leak;
  leak.scenario = "cycles";
  leak.verdict.kind = VerdictKind::kLeak;
  r.runs.push_back(leak);
  o.guest_report = ReportToJson(r);
  EXPECT_EQ(VmExitStatus(o), kExitFinding);
}

// --- the gate's ruling: it fails closed ---

// A guest that ran `inflight stress cycles` for `epochs` checkpoints, `leaks` of them
// ruled leak, and exited `status`.
VmOutcome Stress(int status, int epochs, int leaks) {
  VmOutcome o = Completed(status);
  Report r;
  r.command = "stress";
  for (int e = 0; e < epochs; ++e) {
    RunRecord rec;
    rec.scenario = "cycles";
    rec.file = "stressors";
    rec.mode = RunMode::kFree;
    rec.repeat = static_cast<uint32_t>(e);
    if (e < leaks) {
      rec.verdict.kind = VerdictKind::kLeak;
      Leftover l;
      l.what = "stream socket";
      l.ino = 1000 + e;
      rec.verdict.leftovers.push_back(l);
    }
    r.runs.push_back(rec);
  }
  o.guest_report = ReportToJson(r);
  o.total_s = 30;
  return o;
}

GateRuling Rule(const VmOutcome& base, const VmOutcome& cand) {
  VmConfig c;
  const auto a = BuildVmReport(c, base, {}, "");
  const auto b = BuildVmReport(c, cand, {}, "");
  return RuleOnCandidate(base, cand, CompareReports(a, b, 0.25, GateLabels()));
}

TEST(GateRuling, TheSameRunsPass) {
  const GateRuling r = Rule(Stress(0, 5, 0), Stress(0, 5, 0));
  EXPECT_EQ(r.status, kExitClean) << r.why;
  EXPECT_EQ(r.verdict, "PASS");
  EXPECT_EQ(Rule(Stress(1, 5, 5), Stress(1, 5, 5)).status, kExitClean)
      << "a finding both have is not the candidate's";
}

TEST(GateRuling, ANewStressFindingIsWorse) {
  const GateRuling r = Rule(Stress(0, 5, 0), Stress(1, 5, 5));
  EXPECT_EQ(r.status, kExitFinding);
  EXPECT_EQ(r.verdict, "CANDIDATE WORSE");
  EXPECT_EQ(r.why, "1 new finding(s), 0 more frequent");
}

// The bug as a user hit it: the candidate's stress exited 1, but its findings never
// reached the host's report.
TEST(GateRuling, ACandidateWhoseSuiteExitedWorseIsWorseWhateverItsReportSays) {
  GateRuling r = Rule(Stress(0, 5, 0), Stress(1, 5, 0));
  EXPECT_EQ(r.status, kExitFinding) << r.why;
  EXPECT_EQ(r.why, "the candidate's suite exited 1 (a finding) where the baseline's exited 0");
  VmOutcome lost = Stress(1, 0, 0);
  lost.guest_report.reset();
  r = Rule(Stress(0, 5, 0), lost);
  EXPECT_EQ(r.status, kExitFinding) << r.why;
  // Could not run where the baseline could.
  r = Rule(Stress(0, 5, 0), Stress(3, 0, 0));
  EXPECT_EQ(r.status, kExitFinding) << r.why;
  EXPECT_NE(r.why.find("could not run (exit status 3)"), std::string::npos) << r.why;
}

TEST(GateRuling, AMissingInterruptedOrShortCandidateReportNeverPasses) {
  VmOutcome lost = Stress(0, 5, 0);
  lost.guest_report.reset();
  GateRuling r = Rule(Stress(0, 5, 0), lost);
  EXPECT_EQ(r.status, kExitIncomplete) << r.why;
  EXPECT_EQ(r.verdict, "INCOMPLETE");
  EXPECT_NE(r.why.find("the candidate's report did not come back"), std::string::npos) << r.why;

  VmOutcome stopped = Stress(kExitInterrupted, 1, 0);
  (*stopped.guest_report)["interrupted"] = true;
  r = Rule(Stress(0, 5, 0), stopped);
  EXPECT_EQ(r.status, kExitIncomplete) << r.why;
  EXPECT_NE(r.why.find("the candidate was interrupted"), std::string::npos) << r.why;

  r = Rule(Stress(0, 5, 0), Stress(0, 0, 0));
  EXPECT_EQ(r.status, kExitIncomplete) << r.why;
  EXPECT_NE(r.why.find("the candidate has no runs (the baseline has 5)"), std::string::npos)
      << r.why;
}

TEST(GateRuling, ACandidateThatDidNotFinishIsWorse) {
  for (VmEnd end : {VmEnd::kNoBoot, VmEnd::kCrashed, VmEnd::kHang, VmEnd::kTimeout}) {
    VmOutcome cand;
    cand.end = end;
    cand.why = "why";
    const GateRuling r = Rule(Stress(0, 5, 0), cand);
    EXPECT_EQ(r.status, kExitFinding) << VmEndName(end) << ": " << r.why;
    EXPECT_EQ(r.verdict, "CANDIDATE WORSE") << VmEndName(end);
  }
  VmOutcome stopped;
  stopped.end = VmEnd::kInterrupted;
  EXPECT_EQ(Rule(Stress(0, 5, 0), stopped).status, kExitInterrupted);
}

TEST(GateRuling, ErrorsOfOursAreNoVerdict) {
  const GateRuling r = Rule(Stress(0, 5, 0), Stress(kExitInternal, 5, 0));
  EXPECT_EQ(r.status, kExitInternal) << r.why;
  EXPECT_EQ(r.verdict, "NO VERDICT");
}

TEST(GateRuling, ABaselineWithNothingToCompareWithStopsTheGate) {
  EXPECT_FALSE(RuleOnBaseline(Stress(0, 5, 0)).has_value());
  EXPECT_FALSE(RuleOnBaseline(Stress(1, 5, 5)).has_value());
  VmOutcome o;
  for (auto [end, status] : {std::pair{VmEnd::kNoBoot, kExitNoBoot},
                             {VmEnd::kTimeout, kExitTimeout},
                             {VmEnd::kCrashed, kExitEnvironment},
                             {VmEnd::kHang, kExitEnvironment},
                             {VmEnd::kInterrupted, kExitInterrupted}}) {
    o.end = end;
    auto r = RuleOnBaseline(o);
    ASSERT_TRUE(r.has_value()) << VmEndName(end);
    EXPECT_EQ(r->status, status) << VmEndName(end);
  }
  auto r = RuleOnBaseline(Stress(kExitEnvironment, 0, 0));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, kExitEnvironment);
  VmOutcome lost = Stress(0, 5, 0);
  lost.guest_report.reset();
  r = RuleOnBaseline(lost);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, kExitInternal);
  EXPECT_NE(r->why.find("the baseline's report did not come back"), std::string::npos) << r->why;
  VmOutcome stopped = Stress(0, 5, 0);
  (*stopped.guest_report)["interrupted"] = true;
  ASSERT_TRUE(RuleOnBaseline(stopped).has_value());
}

// --- bad input at the command line: answered before anything boots ---

class VmCli : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteBytes(d_.path() + "/bzImage", FakeBzImage());
    WriteBytes(d_.path() + "/text", "not a kernel\n");
  }
  std::string Vm(const std::string& opts, const std::string& env = "") {
    return env + " " + CliPath() + " vm --report " + d_.path() + "/out " + opts;
  }
  TempDir d_;
};

TEST_F(VmCli, MissingOrNonKernelImageIsBadInput) {
  auto r = RunCommand(Vm("-- run x.scn"));
  EXPECT_EQ(r.status, kExitUsage) << r.out;
  EXPECT_NE(r.out.find("--kernel is required"), std::string::npos) << r.out;
  r = RunCommand(Vm("--kernel " + d_.path() + "/nope -- run x.scn"));
  EXPECT_EQ(r.status, kExitUsage) << r.out;
  EXPECT_NE(r.out.find("/nope: no such file"), std::string::npos) << r.out;
  r = RunCommand(Vm("--kernel " + d_.path() + "/text -- run x.scn"));
  EXPECT_EQ(r.status, kExitUsage) << r.out;
  EXPECT_NE(r.out.find("is not an x86 Linux kernel image"), std::string::npos) << r.out;
  r = RunCommand(Vm("--kernel " + d_.path() + "/bzImage"));
  EXPECT_EQ(r.status, kExitUsage) << r.out;
  EXPECT_NE(r.out.find("say what inflight runs inside the VM"), std::string::npos) << r.out;
  r = RunCommand(Vm("--kernel " + d_.path() + "/bzImage --memory 12 -- run x.scn"));
  EXPECT_EQ(r.status, kExitUsage) << r.out;
  r = RunCommand(Vm("--kernel " + d_.path() + "/bzImage --accel hvf -- run x.scn"));
  EXPECT_EQ(r.status, kExitUsage) << r.out;
}

TEST_F(VmCli, MissingQemuIsThisMachine) {
  auto r = RunCommand(
      Vm("--kernel " + d_.path() + "/bzImage -- run x.scn", "INFLIGHT_QEMU=/nonexistent/qemu"));
  EXPECT_EQ(r.status, kExitEnvironment) << r.out;
  EXPECT_NE(r.out.find("INFLIGHT_QEMU=/nonexistent/qemu is not an executable"), std::string::npos)
      << r.out;
  r = RunCommand(Vm("--kernel " + d_.path() + "/bzImage -- run x.scn", "PATH=/nonexistent"));
  EXPECT_EQ(r.status, kExitEnvironment) << r.out;
  EXPECT_NE(r.out.find("QEMU is not installed"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d_.path() + "/out/report.json")) << "no half report for bad input";
}

TEST_F(VmCli, GateChecksBothImagesFirst) {
  auto r = RunCommand(CliPath() + " gate --baseline " + d_.path() + "/bzImage --candidate " +
                      d_.path() + "/text --report " + d_.path() + "/g -- run x.scn");
  EXPECT_EQ(r.status, kExitUsage) << r.out;
  EXPECT_NE(r.out.find("is not an x86 Linux kernel image"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace inflight
