// SPDX-License-Identifier: Apache-2.0
// timed_run: runs one VMM invocation and reports host-side timings and memory, for
// bench/boot_latency.sh. All times are CLOCK_MONOTONIC milliseconds since just before fork+exec.
//
//   timed_run [--mark NAME=REGEX]... [--stop-on NAME] [--guest-mem-mib N] [--sample-ms N]
//             [--timeout-s N] -- COMMAND [ARGS...]
//
// Prints key=value lines on stdout:
//   status=N            exit status (128+signal when killed by a signal we did not send)
//   exit_ms=T           exec -> process exit (reaped)
//   mark_NAME_ms=T      exec -> first output line (stdout+stderr) matching REGEX
//   event_NAME_ms=T     exec -> CLOCK_MONOTONIC stamp the VMM itself printed as
//                       "boot-timing: NAME [value=V] monotonic_ns=NS" (cvmm with
//                       CVMM_BOOT_TIMING=1); NAME becomes NAME-V when value=V is present
//   vcpu_start_to_mark_V_ms=T  from cvmm's exit report "cvmm: boot timing (port 0x440, ms
//                       after vCPU start): 0xVV@T ..." (vmm/machine.cc): the first write of
//                       byte V to the boot-timing port, relative to the vCPUs' start
//   maxrss_kib=N        getrusage(RUSAGE_CHILDREN) peak RSS, guest pages the VMM touched included
//   vmm_rss_kib=N       peak of VmRSS minus the Rss of the guest-RAM mapping, sampled from
//                       /proc/PID/status and /proc/PID/smaps every --sample-ms (only with
//                       --guest-mem-mib; the guest-RAM mapping is the one whose size is
//                       within [N MiB, N MiB + 8 MiB])
// --stop-on NAME: SIGKILL the command once mark NAME matched (exit_ms is then the kill time).
// The command's output is copied to stderr prefixed with "| " when TIMED_RUN_ECHO=1.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kMaxMarks = 16, kLineMax = 4096 };

struct Mark {
  const char* name;
  regex_t regex;
  double ms;  // < 0 until matched
};

struct Options {
  struct Mark marks[kMaxMarks];
  int mark_count;
  const char* stop_on;
  long guest_mem_kib;
  int sample_ms;
  int timeout_s;
  char** command;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int usage(void) {
  fprintf(stderr,
          "usage: timed_run [--mark NAME=REGEX]... [--stop-on NAME] [--guest-mem-mib N]\n"
          "                 [--sample-ms N] [--timeout-s N] -- COMMAND [ARGS...]\n");
  return 2;
}

static int parse_options(int argc, char** argv, struct Options* options) {
  options->sample_ms = 20;
  options->timeout_s = 600;
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
    if (i + 1 >= argc) {
      return usage();
    }
    const char* value = argv[i + 1];
    if (strcmp(argv[i], "--mark") == 0) {
      char* equals = strchr(value, '=');
      if (equals == NULL || options->mark_count == kMaxMarks) {
        return usage();
      }
      struct Mark* mark = &options->marks[options->mark_count++];
      mark->name = strndup(value, (size_t)(equals - value));
      mark->ms = -1;
      if (regcomp(&mark->regex, equals + 1, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "timed_run: bad regex for mark %s\n", mark->name);
        return 2;
      }
    } else if (strcmp(argv[i], "--stop-on") == 0) {
      options->stop_on = value;
    } else if (strcmp(argv[i], "--guest-mem-mib") == 0) {
      options->guest_mem_kib = atol(value) * 1024;
    } else if (strcmp(argv[i], "--sample-ms") == 0) {
      options->sample_ms = atoi(value);
    } else if (strcmp(argv[i], "--timeout-s") == 0) {
      options->timeout_s = atoi(value);
    } else {
      return usage();
    }
  }
  if (i + 1 >= argc) {
    return usage();
  }
  options->command = &argv[i + 1];
  return 0;
}

// Reads "Key:   N kB" from /proc/PID/status; -1 when absent.
static long status_kib(pid_t pid, const char* key) {
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE* file = fopen(path, "r");
  long value = -1;
  size_t key_len = strlen(key);
  while (file != NULL && fgets(line, sizeof(line), file) != NULL) {
    if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
      value = atol(line + key_len + 1);
      break;
    }
  }
  if (file != NULL) {
    fclose(file);
  }
  return value;
}

// Rss (KiB) of the guest-RAM mapping in /proc/PID/smaps; 0 when not found.
static long guest_ram_rss_kib(pid_t pid, long guest_mem_kib) {
  char path[64], line[512];
  snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
  FILE* file = fopen(path, "r");
  if (file == NULL) {
    return 0;
  }
  long best = 0;
  int in_guest_mapping = 0;
  while (fgets(line, sizeof(line), file) != NULL) {
    long kib;
    if (sscanf(line, "Size: %ld kB", &kib) == 1) {
      in_guest_mapping = kib >= guest_mem_kib && kib <= guest_mem_kib + 8192;
    } else if (in_guest_mapping && sscanf(line, "Rss: %ld kB", &kib) == 1) {
      best = kib > best ? kib : best;
    }
  }
  fclose(file);
  return best;
}

// cvmm's exit report of the boot-timing port: "... ms after vCPU start): 0x7b@123.456 ...".
static void parse_boot_timing_report(const char* line) {
  const char* list = strstr(line, "ms after vCPU start):");
  if (list == NULL) {
    return;
  }
  list += strlen("ms after vCPU start):");
  unsigned seen[256] = {0};
  unsigned value;
  double ms;
  int used;
  while (sscanf(list, " %x@%lf%n", &value, &ms, &used) == 2) {
    if (value < 256 && !seen[value]) {
      seen[value] = 1;
      printf("vcpu_start_to_mark_%u_ms=%.3f\n", value, ms);
    }
    list += used;
  }
}

static void match_line(struct Options* options, const char* line, int64_t start_ns,
                       pid_t pid, int* killed) {
  const double ms = (double)(now_ns() - start_ns) / 1e6;
  if (getenv("TIMED_RUN_ECHO") != NULL) {
    fprintf(stderr, "| %s\n", line);
  }
  for (int i = 0; i < options->mark_count; ++i) {
    struct Mark* mark = &options->marks[i];
    if (mark->ms < 0 && regexec(&mark->regex, line, 0, NULL, 0) == 0) {
      mark->ms = ms;
      if (options->stop_on != NULL && strcmp(options->stop_on, mark->name) == 0 && !*killed) {
        kill(pid, SIGKILL);
        *killed = 1;
      }
    }
  }
  parse_boot_timing_report(line);
  char event[64];
  long long stamp_ns;
  unsigned value;
  const char* tag = strstr(line, "boot-timing: ");
  if (tag != NULL && sscanf(tag, "boot-timing: %63s", event) == 1) {
    const char* stamp = strstr(tag, "monotonic_ns=");
    const char* value_text = strstr(tag, "value=");
    if (stamp != NULL && sscanf(stamp, "monotonic_ns=%lld", &stamp_ns) == 1) {
      if (value_text != NULL && sscanf(value_text, "value=%u", &value) == 1) {
        printf("event_%s-%u_ms=%.3f\n", event, value, (double)(stamp_ns - start_ns) / 1e6);
      } else {
        printf("event_%s_ms=%.3f\n", event, (double)(stamp_ns - start_ns) / 1e6);
      }
    }
  }
}

struct RunState {
  int64_t start_ns;
  pid_t pid;
  int killed;
  long peak_vmm_kib;
};

static void sample_memory(const struct Options* options, struct RunState* state) {
  if (options->guest_mem_kib <= 0) {
    return;
  }
  const long rss = status_kib(state->pid, "VmRSS");
  if (rss < 0) {
    return;
  }
  const long vmm = rss - guest_ram_rss_kib(state->pid, options->guest_mem_kib);
  state->peak_vmm_kib = vmm > state->peak_vmm_kib ? vmm : state->peak_vmm_kib;
}

// Reads the command's output until EOF, timing each line; samples memory between reads.
static void pump_output(struct Options* options, int fd, struct RunState* state) {
  char buffer[kLineMax];
  size_t used = 0;
  const int64_t deadline_ns = state->start_ns + (int64_t)options->timeout_s * 1000000000;
  for (;;) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    const int timeout = options->guest_mem_kib > 0 ? options->sample_ms : 1000;
    const int ready = poll(&pfd, 1, timeout);
    sample_memory(options, state);
    if (now_ns() > deadline_ns && !state->killed) {
      fprintf(stderr, "timed_run: timeout after %d s, killing\n", options->timeout_s);
      kill(state->pid, SIGKILL);
      state->killed = 1;
    }
    if (ready <= 0) {
      continue;
    }
    const ssize_t got = read(fd, buffer + used, sizeof(buffer) - 1 - used);
    if (got <= 0) {
      break;
    }
    used += (size_t)got;
    char* line = buffer;
    char* newline;
    while ((newline = memchr(line, '\n', used - (size_t)(line - buffer))) != NULL) {
      *newline = '\0';
      match_line(options, line, state->start_ns, state->pid, &state->killed);
      line = newline + 1;
    }
    used -= (size_t)(line - buffer);
    memmove(buffer, line, used);
    if (used == sizeof(buffer) - 1) {  // overlong line: match what we have
      buffer[used] = '\0';
      match_line(options, buffer, state->start_ns, state->pid, &state->killed);
      used = 0;
    }
  }
}

int main(int argc, char** argv) {
  struct Options options = {0};
  const int parsed = parse_options(argc, argv, &options);
  if (parsed != 0) {
    return parsed;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    perror("timed_run: pipe2");
    return 1;
  }
  struct RunState state = {.start_ns = now_ns()};
  state.pid = fork();
  if (state.pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    execvp(options.command[0], options.command);
    fprintf(stderr, "timed_run: exec %s: %s\n", options.command[0], strerror(errno));
    _exit(127);
  }
  close(pipe_fds[1]);
  pump_output(&options, pipe_fds[0], &state);
  int wait_status = 0;
  while (waitpid(state.pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  const double exit_ms = (double)(now_ns() - state.start_ns) / 1e6;
  struct rusage usage;
  getrusage(RUSAGE_CHILDREN, &usage);
  const int status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status)
                                            : 128 + WTERMSIG(wait_status);
  printf("status=%d\nkilled=%d\nexit_ms=%.3f\nmaxrss_kib=%ld\n", status, state.killed, exit_ms,
         usage.ru_maxrss);
  if (options.guest_mem_kib > 0) {
    printf("vmm_rss_kib=%ld\n", state.peak_vmm_kib);
  }
  for (int i = 0; i < options.mark_count; ++i) {
    if (options.marks[i].ms >= 0) {
      printf("mark_%s_ms=%.3f\n", options.marks[i].name, options.marks[i].ms);
    }
  }
  return 0;
}
