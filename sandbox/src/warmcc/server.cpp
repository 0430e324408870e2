// hone's warm compiler: a long-lived compile server for C and C++ candidates.
//
// It runs inside bubblewrap (the same confinement as a cold compile), with clang and lld
// loaded once. For each request it forks a child that runs exactly what the `clang` binary
// would run for the same command line, but in-process: the driver builds its jobs, the cc1
// job runs through the in-process cc1 entry (what `-fintegrated-cc1` does) and the link job
// through `lld::wasm::link` with the arguments the driver computed for wasm-ld. So no
// program is executed per compile, and the produced module is the one `clang` produces.
//
// Each child first enters its own user and mount namespaces, binds its compile's scratch
// directory over /build and mounts a fresh /tmp, so it sees exactly what a cold compile
// sees (and never another compile's directory); then it takes the compile's limits
// (address space, file size, its own process group) and runs the driver.
//
// Protocol (stdin/stdout of the server): a message is a u32 (little-endian) count of
// fields, then each field as a u32 length and its bytes.
//   hello    (server -> host, once): "hone-warmcc-1", clang's full version, "ok" or why
//            a child cannot be confined.
//   request  (host -> server): directory below /build, the host path of that directory
//            (named in the child's environment), timeout in ms, address-space limit in
//            bytes, argv[0], the driver's arguments...
//   response (server -> host): "status" and the raw wait(2) status, or "timeout"; then
//            stderr and stdout (1 MiB of each).
// The server exits at the end of its stdin.

#include "clang/Basic/Diagnostic.h"
#include "clang/Basic/DiagnosticOptions.h"
#include "clang/Basic/Version.h"
#include "clang/CodeGen/ObjectFilePCHContainerOperations.h"
#include "clang/Driver/Compilation.h"
#include "clang/Driver/Driver.h"
#include "clang/Driver/Job.h"
#include "clang/Driver/Options.h"
#include "clang/Driver/ToolChain.h"
#include "clang/Frontend/CompilerInstance.h"
#include "clang/Frontend/CompilerInvocation.h"
#include "clang/Frontend/FrontendDiagnostic.h"
#include "clang/Frontend/TextDiagnosticBuffer.h"
#include "clang/Frontend/TextDiagnosticPrinter.h"
#include "clang/Frontend/Utils.h"
#include "clang/FrontendTool/Utils.h"
#include "lld/Common/Driver.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Option/ArgList.h"
#include "llvm/Option/OptTable.h"
#include "llvm/Support/BuryPointer.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/CrashRecoveryContext.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Host.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/StringSaver.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/Timer.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

using namespace clang;
using namespace clang::driver;

extern char **environ;

namespace {

// The environment variable whose value, in a child, is overwritten in place by the
// compile's scratch variable, so that /proc/PID/environ names the compile the child
// belongs to (as it does for a cold compiler process).
constexpr const char *SLOT_NAME = "HONE_WARMCC_SLOT=";
// The scratch variable (the Rust side's `SCRATCH_ENV`).
constexpr const char *SCRATCH_NAME = "HONE_COMPILE_SCRATCH=";
// Diagnostics kept of each stream.
constexpr size_t KEEP_BYTES = 1 << 20;

// ---- protocol -------------------------------------------------------------------------

bool readAll(int fd, void *buffer, size_t length) {
  char *at = static_cast<char *>(buffer);
  while (length > 0) {
    ssize_t n = read(fd, at, length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    at += n;
    length -= static_cast<size_t>(n);
  }
  return true;
}

bool writeAll(int fd, const void *buffer, size_t length) {
  const char *at = static_cast<const char *>(buffer);
  while (length > 0) {
    ssize_t n = write(fd, at, length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    at += n;
    length -= static_cast<size_t>(n);
  }
  return true;
}

bool readMessage(int fd, std::vector<std::string> &fields) {
  uint32_t count;
  if (!readAll(fd, &count, 4) || count > 4096)
    return false;
  fields.clear();
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t length;
    if (!readAll(fd, &length, 4) || length > (64u << 20))
      return false;
    std::string field(length, '\0');
    if (length > 0 && !readAll(fd, field.data(), length))
      return false;
    fields.push_back(std::move(field));
  }
  return true;
}

bool writeMessage(int fd, const std::vector<std::string> &fields) {
  std::string out;
  auto put = [&out](uint32_t value) {
    out.append(reinterpret_cast<const char *>(&value), 4);
  };
  put(static_cast<uint32_t>(fields.size()));
  for (const std::string &field : fields) {
    put(static_cast<uint32_t>(field.size()));
    out += field;
  }
  return writeAll(fd, out.data(), out.size());
}

// ---- the driver, as clang's own main runs it ------------------------------------------

// cc1 errors from LLVM's backend go through the compiler's diagnostics (as in clang's
// cc1_main).
void llvmErrorHandler(void *userData, const char *message, bool genCrashDiag) {
  DiagnosticsEngine &diags = *static_cast<DiagnosticsEngine *>(userData);
  diags.Report(diag::err_fe_error_backend) << message;
  llvm::sys::RunInterruptHandlers();
  llvm::sys::Process::Exit(genCrashDiag ? 70 : 1);
}

// clang's cc1_main for the in-process cc1 job.
int cc1Main(llvm::ArrayRef<const char *> argv, const char *argv0) {
  std::unique_ptr<CompilerInstance> clang(new CompilerInstance());
  IntrusiveRefCntPtr<DiagnosticIDs> diagID(new DiagnosticIDs());
  auto pchOps = clang->getPCHContainerOperations();
  pchOps->registerWriter(std::make_unique<ObjectFilePCHContainerWriter>());
  pchOps->registerReader(std::make_unique<ObjectFilePCHContainerReader>());

  IntrusiveRefCntPtr<DiagnosticOptions> diagOpts = new DiagnosticOptions();
  TextDiagnosticBuffer *diagsBuffer = new TextDiagnosticBuffer;
  DiagnosticsEngine diags(diagID, &*diagOpts, diagsBuffer);
  bool success = CompilerInvocation::CreateFromArgs(clang->getInvocation(), argv,
                                                    diags, argv0);
  if (clang->getHeaderSearchOpts().UseBuiltinIncludes &&
      clang->getHeaderSearchOpts().ResourceDir.empty())
    clang->getHeaderSearchOpts().ResourceDir = CompilerInvocation::GetResourcesPath(
        argv0, reinterpret_cast<void *>(&cc1Main));
  clang->createDiagnostics();
  if (!clang->hasDiagnostics())
    return 1;
  llvm::install_fatal_error_handler(llvmErrorHandler,
                                    static_cast<void *>(&clang->getDiagnostics()));
  diagsBuffer->FlushDiagnostics(clang->getDiagnostics());
  if (!success) {
    clang->getDiagnosticClient().finish();
    return 1;
  }
  success = ExecuteCompilerInvocation(clang.get());
  llvm::TimerGroup::printAll(llvm::errs());
  llvm::TimerGroup::clearAll();
  llvm::remove_fatal_error_handler();
  if (clang->getFrontendOpts().DisableFree) {
    llvm::BuryPointer(std::move(clang));
    return !success;
  }
  return !success;
}

// The driver's callback for cc1 jobs (clang's ExecuteCC1Tool).
int executeCC1Tool(llvm::SmallVectorImpl<const char *> &argv) {
  llvm::cl::ResetAllOptionOccurrences();
  llvm::BumpPtrAllocator allocator;
  llvm::StringSaver saver(allocator);
  llvm::cl::ExpandResponseFiles(saver, &llvm::cl::TokenizeGNUCommandLine, argv,
                                /*MarkEOLs=*/false);
  llvm::StringRef tool = argv[1];
  if (tool == "-cc1")
    return cc1Main(llvm::makeArrayRef(argv).slice(2), argv[0]);
  llvm::errs() << "error: unknown integrated tool '" << tool << "'. "
               << "the warm compiler runs only '-cc1'.\n";
  return 1;
}

// The link job, run by lld in this process with the arguments the driver computed for
// wasm-ld (its error prefix comes from argv[0], the wasm-ld the driver found).
class InProcessWasmLink : public Command {
public:
  explicit InProcessWasmLink(const Command &link) : Command(link) {}

  int Execute(llvm::ArrayRef<llvm::Optional<llvm::StringRef>>, std::string *,
              bool *executionFailed) const override {
    if (executionFailed)
      *executionFailed = false;
    std::vector<const char *> argv;
    argv.push_back(getExecutable());
    for (const char *arg : getArguments())
      argv.push_back(arg);
    bool linked = false;
    // lld leaves through Process::Exit on a fatal error; the recovery context turns that
    // into a return, so the driver reports the failed link and cleans up as it does for a
    // wasm-ld process.
    llvm::CrashRecoveryContext crc;
    if (!crc.RunSafely([&] {
          linked = lld::wasm::link(argv, llvm::outs(), llvm::errs(),
                                   /*exitEarly=*/false, /*disableOutput=*/false);
        }))
      return crc.RetCode;
    llvm::outs().flush();
    llvm::errs().flush();
    return linked ? 0 : 1;
  }
};

bool isWasmLinker(const Command &job) {
  return llvm::sys::path::filename(job.getExecutable()).startswith("wasm-ld");
}

// clang's FixupDiagPrefixExeName.
void setDiagnosticPrefix(TextDiagnosticPrinter *client, const std::string &path) {
  llvm::StringRef base(llvm::sys::path::stem(path));
  if (base.equals_insensitive("cl"))
    base = "clang-cl";
  client->setPrefix(std::string(base));
}

// clang's SetInstallDir: the directory of argv[0] as invoked (found on PATH when bare).
void setInstallDir(const char *argv0, Driver &driver) {
  llvm::SmallString<128> installed(argv0);
  if (llvm::sys::path::filename(installed) == installed)
    if (llvm::ErrorOr<std::string> found =
            llvm::sys::findProgramByName(llvm::sys::path::filename(installed.str())))
      installed = *found;
  llvm::sys::fs::make_absolute(installed);
  llvm::StringRef parent(llvm::sys::path::parent_path(installed));
  if (llvm::sys::fs::exists(parent))
    driver.setInstalledDir(parent);
}

// clang's insertTargetAndModeArgs.
void insertTargetAndModeArgs(const ParsedClangName &nameParts,
                             llvm::SmallVectorImpl<const char *> &argv,
                             llvm::StringSaver &saver) {
  if (!nameParts.ModeSuffix.empty() && nameParts.DriverMode) {
    auto at = std::find_if(argv.begin(), argv.end(), [](const char *arg) {
      return arg && llvm::StringRef(arg).startswith("--driver-mode=");
    });
    argv.insert(at, nameParts.DriverMode);
  }
  if (nameParts.TargetIsValid) {
    const char *target[] = {"-target", saver.save(nameParts.TargetPrefix).data()};
    argv.insert(argv.begin() + 1, std::begin(target), std::end(target));
  }
}

// clang's main for one command line: the exit code `clang` would exit with.
int runDriver(llvm::SmallVector<const char *, 64> args, const std::string &path) {
  llvm::BumpPtrAllocator allocator;
  llvm::StringSaver saver(allocator);

  IntrusiveRefCntPtr<DiagnosticOptions> diagOpts = new DiagnosticOptions;
  {
    unsigned missingIndex, missingCount;
    llvm::opt::InputArgList parsed = getDriverOptTable().ParseArgs(
        llvm::makeArrayRef(args).slice(1), missingIndex, missingCount);
    (void)ParseDiagnosticArgs(*diagOpts, parsed);
  }
  TextDiagnosticPrinter *diagClient = new TextDiagnosticPrinter(llvm::errs(), &*diagOpts);
  setDiagnosticPrefix(diagClient, path);
  IntrusiveRefCntPtr<DiagnosticIDs> diagID(new DiagnosticIDs());
  DiagnosticsEngine diags(diagID, &*diagOpts, diagClient);
  ProcessWarningOptions(diags, *diagOpts, /*ReportDiags=*/false);

  Driver driver(path, llvm::sys::getDefaultTargetTriple(), diags);
  setInstallDir(args[0], driver);
  auto targetAndMode = ToolChain::getTargetAndModeFromProgramName(args[0]);
  driver.setTargetAndMode(targetAndMode);
  insertTargetAndModeArgs(targetAndMode, args, saver);
  driver.CC1Main = &executeCC1Tool;
  llvm::CrashRecoveryContext::Enable();

  std::unique_ptr<Compilation> compilation(driver.BuildCompilation(args));
  int result = 1;
  bool isCrash = false;
  if (compilation && !compilation->containsError()) {
    // clang runs cc1 in-process only when it is the one job; here every cc1 job runs in
    // this process (a job's `InProcess` is read by cc1 jobs alone), and the link job too.
    JobList &jobs = compilation->getJobs();
    for (Command &job : jobs)
      if (!job.getArguments().empty() && llvm::StringRef(job.getArguments()[0]) == "-cc1")
        job.InProcess = true;
    std::vector<std::unique_ptr<Command>> replaced;
    for (Command &job : jobs) {
      if (isWasmLinker(job))
        replaced.push_back(std::make_unique<InProcessWasmLink>(job));
      else
        replaced.push_back(nullptr);
    }
    bool any = false;
    for (const auto &job : replaced)
      any |= job != nullptr;
    if (any) {
      // JobList owns its commands: take the list apart and put it back together with the
      // link jobs swapped.
      std::vector<std::unique_ptr<Command>> kept;
      for (auto &owned :
           const_cast<JobList::list_type &>(jobs.getJobs()))
        kept.push_back(std::move(owned));
      jobs.clear();
      for (size_t i = 0; i < kept.size(); ++i)
        jobs.addJob(replaced[i] ? std::move(replaced[i]) : std::move(kept[i]));
    }
    llvm::SmallVector<std::pair<int, const Command *>, 4> failing;
    result = driver.ExecuteCompilation(*compilation, failing);
    for (const auto &pair : failing) {
      int commandResult = pair.first;
      if (!result)
        result = commandResult;
      isCrash = commandResult < 0 || commandResult == 70 || commandResult > 128;
      if (isCrash) {
        driver.generateCompilationDiagnostics(*compilation, *pair.second);
        break;
      }
    }
  }
  diags.getClient()->finish();
  if (isCrash) {
    llvm::BuryPointer(llvm::TimerGroup::aquireDefaultGroup());
  } else {
    llvm::TimerGroup::printAll(llvm::errs());
    llvm::TimerGroup::clearAll();
  }
  // Removes the driver's temporary files, as the end of clang's main does.
  compilation.reset();
  return result;
}

// ---- confinement of one child ---------------------------------------------------------

bool writeFile(const char *path, const std::string &contents) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = writeAll(fd, contents.data(), contents.size());
  close(fd);
  return ok;
}

// Creates `path` and its missing parents (each 0755).
bool makeDirs(const std::string &path) {
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at == path.size() || path[at] == '/') {
      std::string prefix = path.substr(0, at);
      if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
        return false;
    }
  }
  return true;
}

// Enters new user and mount namespaces, binds /build/<dir> over /build and mounts a fresh
// /tmp, with the server's read-only mounts below /tmp (`keep`: a cache in a temporary
// directory) bound again inside it; then drops every capability the new user namespace
// gave. An empty `dir` only checks that this works. The reason when it does not.
std::string confineChild(const std::string &dir, const std::vector<std::string> &keep) {
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
    return std::string("unshare(CLONE_NEWUSER | CLONE_NEWNS): ") + strerror(errno);
  if (!writeFile("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n"))
    return std::string("writing /proc/self/uid_map: ") + strerror(errno);
  if (!writeFile("/proc/self/setgroups", "deny"))
    return std::string("writing /proc/self/setgroups: ") + strerror(errno);
  if (!writeFile("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n"))
    return std::string("writing /proc/self/gid_map: ") + strerror(errno);
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return std::string("making mounts private: ") + strerror(errno);
  if (!dir.empty()) {
    std::string source = "/build/" + dir;
    if (mount(source.c_str(), "/build", nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return "binding " + source + " over /build: " + strerror(errno);
  }
  // The mounts below /tmp, held open while the fresh /tmp covers them.
  std::vector<std::pair<std::string, int>> held;
  for (const std::string &path : keep) {
    int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0)
      return "opening " + path + ": " + strerror(errno);
    held.emplace_back(path, fd);
  }
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return std::string("mounting /tmp: ") + strerror(errno);
  for (const auto &[path, fd] : held) {
    std::string source = "/proc/self/fd/" + std::to_string(fd);
    if (!makeDirs(path))
      return "making " + path + ": " + strerror(errno);
    if (mount(source.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return "binding " + path + " again below the fresh /tmp: " + strerror(errno);
    close(fd);
  }
  if (chdir("/build") != 0)
    return std::string("chdir /build: ") + strerror(errno);
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &header, data) != 0)
    return std::string("dropping capabilities: ") + strerror(errno);
  return "";
}

// Names the compile in this process's own environment block, where /proc/PID/environ
// reads it.
void nameCompile(const std::string &hostScratch) {
  std::string value = std::string(SCRATCH_NAME) + hostScratch;
  for (char **entry = environ; *entry; ++entry) {
    if (strncmp(*entry, SLOT_NAME, strlen(SLOT_NAME)) != 0)
      continue;
    size_t room = strlen(*entry);
    if (value.size() <= room) {
      memcpy(*entry, value.c_str(), value.size());
      memset(*entry + value.size(), 0, room - value.size());
    }
    break;
  }
  setenv("HONE_COMPILE_SCRATCH", hostScratch.c_str(), 1);
}

[[noreturn]] void childCompile(const std::vector<std::string> &request, int outFd, int errFd,
                               const std::string &clangPath,
                               const std::vector<std::string> &keep) {
  const std::string &dir = request[0];
  const std::string &hostScratch = request[1];
  unsigned long long memoryBytes = std::strtoull(request[3].c_str(), nullptr, 10);
  signal(SIGPIPE, SIG_DFL);
  // No input, as for a cold compiler (fd 0 is the server's request pipe).
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    close(null);
  } else {
    close(0);
  }
  dup2(outFd, 1);
  dup2(errFd, 2);
  close(outFd);
  close(errFd);
  setpgid(0, 0);
  std::string failure = confineChild(dir, keep);
  if (!failure.empty()) {
    dprintf(2, "hone-warmcc: cannot confine the compile: %s\n", failure.c_str());
    _exit(121);
  }
  nameCompile(hostScratch);
  struct rlimit memory = {memoryBytes, memoryBytes};
  setrlimit(RLIMIT_AS, &memory);
  struct rlimit files = {256u << 20, 256u << 20};
  setrlimit(RLIMIT_FSIZE, &files);

  llvm::SmallVector<const char *, 64> args;
  for (size_t i = 4; i < request.size(); ++i)
    args.push_back(request[i].c_str());
  int result = runDriver(args, clangPath);
  llvm::outs().flush();
  llvm::errs().flush();
  _exit(result & 0xff);
}

// ---- the server -----------------------------------------------------------------------

int64_t nowMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

struct Stream {
  int fd;
  std::string kept;
};

// Reads what is there of `stream` (keeping 1 MiB); false at its end.
bool drain(Stream &stream) {
  char buffer[65536];
  ssize_t n = read(stream.fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0) {
    close(stream.fd);
    stream.fd = -1;
    return false;
  }
  size_t room = KEEP_BYTES - std::min(KEEP_BYTES, stream.kept.size());
  stream.kept.append(buffer, std::min(room, static_cast<size_t>(n)));
  return true;
}

// Runs one request: forks the child, collects its output, enforces the timeout.
std::vector<std::string> serve(const std::vector<std::string> &request,
                               const std::string &clangPath,
                               const std::vector<std::string> &keep) {
  if (request.size() < 5)
    return {"error", "a request has at least five fields"};
  int64_t timeoutMs = std::strtoll(request[2].c_str(), nullptr, 10);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    return {"error", std::string("pipe: ") + strerror(errno)};
  int64_t started = nowMs();
  pid_t pid = fork();
  if (pid < 0)
    return {"error", std::string("fork: ") + strerror(errno)};
  if (pid == 0) {
    close(out[0]);
    close(err[0]);
    childCompile(request, out[1], err[1], clangPath, keep);
  }
  setpgid(pid, pid);
  close(out[1]);
  close(err[1]);
  Stream streams[2] = {{err[0], {}}, {out[0], {}}};
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  bool timedOut = false;
  int status = 0;
  for (;;) {
    pid_t waited = waitpid(pid, &status, WNOHANG);
    if (waited == pid)
      break;
    int64_t left = timeoutMs - (nowMs() - started);
    if (left <= 0) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      timedOut = true;
      break;
    }
    struct pollfd fds[3];
    nfds_t count = 0;
    int which[3];
    for (int i = 0; i < 2; ++i)
      if (streams[i].fd >= 0) {
        fds[count] = {streams[i].fd, POLLIN, 0};
        which[count++] = i;
      }
    if (pidfd >= 0) {
      fds[count] = {pidfd, POLLIN, 0};
      which[count++] = -1;
    }
    int wait = static_cast<int>(std::min<int64_t>(left, pidfd >= 0 ? left : 5));
    if (poll(fds, count, std::max(wait, 1)) > 0)
      for (nfds_t i = 0; i < count; ++i)
        if (which[i] >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
          drain(streams[which[i]]);
  }
  // What is left in the pipes (the child and its process group are gone, or keep writing
  // nothing once killed).
  kill(-pid, SIGKILL);
  for (Stream &stream : streams)
    while (stream.fd >= 0) {
      struct pollfd fd = {stream.fd, POLLIN, 0};
      if (poll(&fd, 1, 1000) <= 0) {
        close(stream.fd);
        stream.fd = -1;
        break;
      }
      drain(stream);
    }
  if (pidfd >= 0)
    close(pidfd);
  if (timedOut)
    return {"timeout", "", streams[0].kept, streams[1].kept};
  return {"status", std::to_string(status), streams[0].kept, streams[1].kept};
}

// Whether a child can be confined here (the first request would fail otherwise).
std::string probeConfinement(const std::vector<std::string> &keep) {
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0)
    return std::string("pipe: ") + strerror(errno);
  pid_t pid = fork();
  if (pid < 0)
    return std::string("fork: ") + strerror(errno);
  if (pid == 0) {
    close(err[0]);
    std::string failure = confineChild("", keep);
    if (!failure.empty())
      writeAll(err[1], failure.data(), failure.size());
    _exit(failure.empty() ? 0 : 1);
  }
  close(err[1]);
  std::string failure;
  char buffer[512];
  ssize_t n;
  while ((n = read(err[0], buffer, sizeof buffer)) > 0)
    failure.append(buffer, static_cast<size_t>(n));
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (failure.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    failure = "the probe child ended with wait status " + std::to_string(status);
  return failure;
}

} // namespace

int main(int argc, const char **argv) {
  if (argc < 2) {
    fprintf(stderr,
            "usage: %s CLANG [MOUNT...] (the clang binary whose driver this runs; the "
            "read-only mounts below /tmp, which each compile's fresh /tmp keeps)\n",
            argv[0]);
    return 2;
  }
  std::vector<std::string> keep;
  for (int i = 2; i < argc; ++i)
    keep.push_back(argv[i]);
  // clang's own startup, once for every compile.
  llvm::InitLLVM initLLVM(argc, argv);
  llvm::setBugReportMsg("PLEASE submit a bug report to "
                        "https://github.com/llvm/llvm-project/issues/ and include the "
                        "crash backtrace, preprocessed source, and associated run "
                        "script.\n");
  llvm::InitializeAllTargets();
  llvm::InitializeAllTargetMCs();
  llvm::InitializeAllAsmPrinters();
  llvm::InitializeAllAsmParsers();
  signal(SIGPIPE, SIG_IGN);
  // The canonical path, as clang's GetExecutablePath finds its own.
  std::string named = argv[1];
  if (named.find('/') == std::string::npos)
    if (llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName(named))
      named = *found;
  llvm::SmallString<256> clangPath;
  if (llvm::sys::fs::real_path(named, clangPath))
    clangPath = named;
  std::string path(clangPath.str());
  if (!writeMessage(1, {"hone-warmcc-1", getClangFullVersion(),
                        [&keep] {
                          std::string failure = probeConfinement(keep);
                          return failure.empty() ? std::string("ok") : failure;
                        }()}))
    return 1;
  std::vector<std::string> request;
  while (readMessage(0, request))
    if (!writeMessage(1, serve(request, path, keep)))
      return 1;
  return 0;
}
