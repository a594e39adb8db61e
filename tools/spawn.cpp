#include "tools/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace gradc::cli {

namespace {
// environ with the NAME=value entries of `extra` replacing any of the same NAME.
std::vector<std::string> merged_env(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  auto name_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  for (char** e = environ; e && *e; ++e) {
    const std::string kv(*e);
    bool replaced = false;
    for (const std::string& x : extra) replaced |= name_of(x) == name_of(kv);
    if (!replaced) env.push_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> p;
  for (std::string& s : v) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

struct Pipe {
  int fd[2] = {-1, -1};
  bool open() { return pipe2(fd, O_CLOEXEC) == 0; }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  ~Pipe() { close_end(0), close_end(1); }
};

// Feeds `in` to the child while draining its stdout/stderr, until both are closed. SIGPIPE (a child
// that exits without reading all of stdin) is blocked for this thread and discarded.
void exchange(Pipe& in, Pipe& out, Pipe& err, const std::string& data, SpawnResult& r) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  size_t sent = 0;
  if (in.fd[1] >= 0) fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    pollfd p[3] = {{out.fd[0], POLLIN, 0}, {err.fd[0], POLLIN, 0}, {in.fd[1], POLLOUT, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[2].revents) {
      const ssize_t n = write(in.fd[1], data.data() + sent, data.size() - sent);
      if (n > 0) sent += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == data.size()) in.close_end(1);
    }
    Pipe* sources[2] = {&out, &err};
    std::string* sinks[2] = {&r.out, &r.err};
    for (int s = 0; s < 2; ++s) {
      if (!p[s].revents) continue;
      char buf[4096];
      const ssize_t n = read(sources[s]->fd[0], buf, sizeof buf);
      if (n > 0) sinks[s]->append(buf, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR)) sources[s]->close_end(0);
    }
  }
  in.close_end(1);
  const timespec zero{0, 0};
  while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}
}  // namespace

SpawnResult run_capture(const std::vector<std::string>& argv, const SpawnOptions& opt) {
  SpawnResult r;
  Pipe in, out, err;
  const bool feed = !opt.stdin_data.empty();
  if (argv.empty() || !out.open() || (opt.capture_stderr && !err.open()) || (feed && !in.open())) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (feed)
    posix_spawn_file_actions_adddup2(&fa, in.fd[0], 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
  if (opt.capture_stderr) posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
  if (!opt.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, opt.cwd.c_str());
  std::vector<std::string> args = argv, env = merged_env(opt.extra_env);
  std::vector<char*> cargs = c_strings(args), cenv = c_strings(env);
  pid_t pid = 0;
  const int e = posix_spawnp(&pid, cargs[0], &fa, nullptr, cargs.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  in.close_end(0), out.close_end(1), err.close_end(1);
  if (e != 0) return r;
  exchange(in, out, err, opt.stdin_data, r);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace gradc::cli
