/* wslalloc service: preloads the library into a systemd service (Ollama's, a llama-server or vLLM unit), and finds the recordings of such services for ls, report and top. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool.h"
#include "wslalloc/options.h"

static const char *const usage =
    "usage: wslalloc service [OPTIONS] [UNIT]\n"
    "\n"
    "Preloads libwslalloc.so into a systemd service: writes the drop-in\n"
    "/etc/systemd/system/UNIT.service.d/wslalloc.conf that sets LD_PRELOAD,\n"
    "WSLALLOC_DIR and the options given, and makes that directory, owned by\n"
    "the service's user and readable by a group of administrators.  Then it\n"
    "prints the two commands that apply it.  UNIT defaults to ollama.\n"
    "\n"
    "  --unit NAME          the unit (llama-server, vllm, ...), as UNIT\n"
    "  --user NAME          the service's user (default: User= of the unit\n"
    "                       file; ollama for ollama; else root)\n"
    "  --group NAME         the group that may read its recordings\n"
    "                       (default wslalloc, made if missing)\n"
    "  --dir PATH           its WSLALLOC_DIR (default /var/lib/wslalloc/UNIT)\n"
    "  --lib PATH           the library (default: the one installed beside\n"
    "                       this wslalloc)\n"
    "  --wsl                WSLALLOC_PROFILE=wsl: the WSL2 workarounds\n"
    "  --limit SIZE         WSLALLOC_LIMIT: cap device memory per device\n"
    "  --headroom SIZE      WSLALLOC_HEADROOM: report that much less free memory\n"
    "  --recover            WSLALLOC_RECOVER: trim and wait on out-of-memory\n"
    "  --set NAME=VALUE     any other WSLALLOC_* option (`wslalloc help options`)\n"
    "  --remove             remove the drop-in (the recordings stay)\n"
    "  --dry-run            print what it would write and do; change nothing\n"
    "  --root DIR           write under DIR instead of / (tests, packaging)\n"
    "  -h, --help           this text\n";


static int usage_error(const char *fmt, const char *arg) {
  fputs("wslalloc service: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\ntry 'wslalloc service --help'\n", stderr);
  return 2;
}

/* A systemd unit name: letters, digits and ":-_.@\\", no leading '-' or
   '.', at most 200 bytes (systemd allows 255 with the suffix). */
static bool unit_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 200 || s[0] == '-' || s[0] == '.') return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          strchr(":-_.@", c)))
      return false;
  }
  return !strstr(s, "..");
}

/* A user or group name as useradd takes it. */
static bool account_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 32 || s[0] == '-') return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          strchr("-_.", c) || (c == '$' && i == n - 1)))
      return false;
  }
  return true;
}

/* A value systemd's Environment="..." keeps as it is: printable, none of
   the characters it would unquote or expand. */
static bool env_value_ok(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f || strchr("\"\\%$'`", *s)) return false;
  return true;
}

/* An absolute path with nothing systemd or LD_PRELOAD would split on. */
static bool path_ok(const char *s) {
  return s[0] == '/' && strlen(s) < WSLA_OPT_PATH_MAX && env_value_ok(s) &&
         !strpbrk(s, " :\t") && !strstr(s, "/../") && !strstr(s, "/./");
}

/* User= of the unit file, the last one given; "" if none. */
static void unit_user(const char *root, const char *unit, char *out, size_t len) {
  static const char *const dirs[] = {"/etc/systemd/system", "/run/systemd/system",
                                     "/usr/local/lib/systemd/system",
                                     "/usr/lib/systemd/system", "/lib/systemd/system"};
  out[0] = '\0';
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s/%s.service", root, dirs[i], unit);
    FILE *f = fopen(path, "re");
    if (!f) continue;
    char line[1024];
    bool in_service = false;
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\r\n")] = '\0';
      if (line[0] == '[') in_service = !strcmp(line, "[Service]");
      else if (in_service && !strncmp(line, "User=", 5))
        snprintf(out, len, "%.*s", (int)(len - 1), line + 5);
    }
    fclose(f);
    return; /* the first unit file found is the one systemd uses */
  }
}

/* Runs argv, waiting; its exit status, or -1. */
static int run_command(char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execvp(argv[0], argv);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* mkdir -p of the parents of path (each 0755, root's), never through a
   link; 0 or -1 with errno. */
static int make_parents(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    struct stat st;
    if (lstat(buf, &st) != 0) {
      if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    } else if (!S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      return -1;
    }
    *p = '/';
  }
  return 0;
}

struct svc {
  const char *unit, *user, *group, *dir, *lib, *root;
  char env[32][WSLA_OPT_PATH_MAX + 64]; /* "NAME=value" */
  size_t nenv;
  bool dry_run;
};

static void dropin_text(const struct svc *s, char *out, size_t len) {
  size_t used = 0;
#define ADD(...) \
  used += (size_t)snprintf(out + used, used < len ? len - used : 0, __VA_ARGS__)
  ADD("# Written by `wslalloc service %s`; `wslalloc service %s --remove` removes it.\n",
      s->unit, s->unit);
  ADD("# Each process of the service (and each runner it starts) records into\n"
      "# WSLALLOC_DIR, which group %s can read.\n", s->group);
  ADD("[Service]\n");
  ADD("Environment=\"LD_PRELOAD=%s\"\n", s->lib);
  ADD("Environment=\"WSLALLOC_DIR=%s\"\n", s->dir);
  for (size_t i = 0; i < s->nenv; i++) ADD("Environment=\"%s\"\n", s->env[i]);
  /* A unit with ProtectSystem=strict could not write there otherwise; "-":
     no error where the directory is missing. */
  ADD("ReadWritePaths=-%s\n", s->dir);
#undef ADD
}

/* Whether user uid (groups aside) can reach and read path: systemd starts
   the service as that user, and a library in a private home directory is
   silently not preloaded. */
static bool readable_by(const char *path, uid_t uid) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *slash = buf + strlen(buf); slash; slash = strrchr(buf, '/')) {
    bool is_file = slash == buf + strlen(buf);
    struct stat st;
    if (stat(buf[0] ? buf : "/", &st) != 0) return false;
    mode_t need = is_file ? S_IROTH : S_IXOTH;
    if (st.st_uid != uid && uid != 0 && !(st.st_mode & need)) return false;
    if (slash == buf) break;
    *slash = '\0';
  }
  return true;
}

static void apply_commands(const char *unit, const char *indent) {
  printf("%ssudo systemctl daemon-reload\n%ssudo systemctl restart %s\n", indent, indent,
         unit);
}

static int do_remove(const struct svc *s) {
  char conf[4400], dir[4096];
  snprintf(dir, sizeof dir, "%s/etc/systemd/system/%s.service.d", s->root, s->unit);
  snprintf(conf, sizeof conf, "%s/wslalloc.conf", dir);
  if (s->dry_run) {
    printf("would remove %s\n", conf);
  } else if (unlink(conf) != 0) {
    if (errno == ENOENT) {
      printf("%s: no drop-in of wslalloc; nothing to remove\n", conf);
      return 0;
    }
    fprintf(stderr, "wslalloc service: cannot remove %s (%s)%s\n", conf, strerror(errno),
            errno == EACCES || errno == EPERM ? ": run it with sudo" : "");
    return 1;
  } else {
    rmdir(dir); /* only if nothing else is in it */
    printf("removed %s\n", conf);
  }
  printf("To apply it:\n");
  apply_commands(s->unit, "  ");
  printf("Until the restart the running service keeps the library.  Its recordings in\n"
         "%s stay; remove them with `sudo rm -r %s`.\n", s->dir, s->dir);
  return 0;
}

/* Makes the recordings directory: owner user, group gid, mode 2750 (the
   set-group-ID bit: the library then makes its files 0640, group-readable). */
static int make_recording_dir(const struct svc *s, uid_t uid, gid_t gid) {
  char path[4096];
  snprintf(path, sizeof path, "%s%s", s->root, s->dir);
  if (make_parents(path) != 0 || (mkdir(path, 02750) != 0 && errno != EEXIST)) {
    fprintf(stderr, "wslalloc service: cannot make %s (%s)%s\n", path, strerror(errno),
            errno == EACCES || errno == EPERM ? ": run it with sudo" : "");
    return -1;
  }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || fchown(fd, uid, gid) != 0 || fchmod(fd, 02750) != 0) {
    fprintf(stderr, "wslalloc service: cannot give %s to %s:%s, mode 2750 (%s)%s\n", path,
            s->user, s->group, strerror(errno),
            errno == EACCES || errno == EPERM ? ": run it with sudo" : "");
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

static int write_dropin(const struct svc *s, const char *text) {
  char dir[4096], conf[4400], tmp[4400];
  snprintf(dir, sizeof dir, "%s/etc/systemd/system/%s.service.d", s->root, s->unit);
  snprintf(conf, sizeof conf, "%s/wslalloc.conf", dir);
  snprintf(tmp, sizeof tmp, "%s/.wslalloc.conf.%d", dir, (int)getpid());
  if (make_parents(conf) != 0) goto fail;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) goto fail;
  size_t n = strlen(text);
  bool ok = write(fd, text, n) == (ssize_t)n && fchmod(fd, 0644) == 0 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  /* Whole or not at all: systemd never reads half a drop-in. */
  if (!ok || rename(tmp, conf) != 0) {
    int e = errno;
    unlink(tmp);
    errno = e;
    goto fail;
  }
  return 0;
fail:
  fprintf(stderr, "wslalloc service: cannot write %s (%s)%s\n", conf, strerror(errno),
          errno == EACCES || errno == EPERM ? ": run it with sudo" : "");
  return -1;
}

static int add_env(struct svc *s, const char *name, const char *value, const char *flag) {
  const struct wsla_option_desc *opt = NULL;
  for (size_t i = 0; i < wsla_option_count; i++)
    if (!strcmp(wsla_option_table[i].name, name)) opt = &wsla_option_table[i];
  if (!opt) return usage_error("%s: not a WSLALLOC_* option (`wslalloc help options` lists them)", name);
  if (!strcmp(name, "WSLALLOC_DIR"))
    return usage_error("%s: give the directory with --dir", flag);
  struct wsla_options scratch;
  if (wsla_option_parse(opt, value, &scratch) != 0 || !env_value_ok(value)) {
    char expects[128] = "a valid value";
    wsla_option_expects(opt, expects, sizeof expects);
    char line[512];
    if (!strcmp(flag, "--set"))
      snprintf(line, sizeof line, "--set %s=%.200s: not %s", name, value, expects);
    else
      snprintf(line, sizeof line, "%s %.200s: not %s", flag, value, expects);
    return usage_error("%s", line);
  }
  for (size_t i = 0; i < s->nenv; i++) /* a later one replaces an earlier */
    if (!strncmp(s->env[i], name, strlen(name)) && s->env[i][strlen(name)] == '=') {
      snprintf(s->env[i], sizeof s->env[i], "%s=%s", name, value);
      return 0;
    }
  if (s->nenv == sizeof s->env / sizeof s->env[0])
    return usage_error("%s: too many options", flag);
  snprintf(s->env[s->nenv++], sizeof s->env[0], "%s=%s", name, value);
  return 0;
}

/* What the command line names besides the drop-in's variables. */
struct service_args {
  const char *unit, *user, *group, *dir, *lib, *root;
  bool remove;
};

/* The options into *a and s's variables: -1 to go on, else the status to exit with. */
static int service_options(int argc, char **argv, struct svc *s, struct service_args *a) {
  static const struct option longopts[] = {
      {"unit", required_argument, NULL, 'u'},  {"user", required_argument, NULL, 'U'},
      {"group", required_argument, NULL, 'g'}, {"dir", required_argument, NULL, 'd'},
      {"lib", required_argument, NULL, 'l'},   {"wsl", no_argument, NULL, 'w'},
      {"limit", required_argument, NULL, 'L'}, {"headroom", required_argument, NULL, 'H'},
      {"recover", no_argument, NULL, 'r'},     {"set", required_argument, NULL, 's'},
      {"remove", no_argument, NULL, 'R'},      {"dry-run", no_argument, NULL, 'n'},
      {"root", required_argument, NULL, 'o'},  {"help", no_argument, NULL, 'h'},
      {0}};
  *a = (struct service_args){.group = "wslalloc", .root = ""};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 'u': a->unit = optarg; break;
    case 'U': a->user = optarg; break;
    case 'g': a->group = optarg; break;
    case 'd': a->dir = optarg; break;
    case 'l': a->lib = optarg; break;
    case 'o': a->root = optarg; break;
    case 'R': a->remove = true; break;
    case 'n': s->dry_run = true; break;
    case 'w': if (add_env(s, "WSLALLOC_PROFILE", "wsl", "--wsl")) return 2; break;
    case 'r': if (add_env(s, "WSLALLOC_RECOVER", "1", "--recover")) return 2; break;
    case 'L': if (add_env(s, "WSLALLOC_LIMIT", optarg, "--limit")) return 2; break;
    case 'H': if (add_env(s, "WSLALLOC_HEADROOM", optarg, "--headroom")) return 2; break;
    case 's': {
      char name[64];
      const char *eq = strchr(optarg, '=');
      if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof name)
        return usage_error("--set %s: not NAME=VALUE", optarg);
      snprintf(name, sizeof name, "%.*s", (int)(eq - optarg), optarg);
      if (add_env(s, name, eq + 1, "--set")) return 2;
      break;
    }
    default:
      return tool_bad_option("service", c, argc, argv);
    }
  }
  return -1;
}

/* The library to preload, made absolute into buf: 0, or the status to exit with. */
static int service_library(const char *lib, char *lib_buf, size_t len) {
  if (lib) {
    char *real = realpath(lib, NULL);
    if (!real) {
      fprintf(stderr, "wslalloc service: --lib %s: %s\n", lib, strerror(errno));
      return 2;
    }
    snprintf(lib_buf, len, "%s", real);
    free(real);
  } else if (tool_find_library(lib_buf, len) != 0) {
    fprintf(stderr, "wslalloc service: cannot find libwslalloc.so beside this program; "
                    "name it with --lib PATH\n");
    return 2;
  }
  if (!path_ok(lib_buf)) {
    fprintf(stderr, "wslalloc service: %s: LD_PRELOAD cannot name a path with spaces, "
                    "colons or quotes; install the library elsewhere and name it with --lib\n",
            lib_buf);
    return 2;
  }
  return 0;
}

/* Makes the group and the recordings directory and writes the drop-in
   (or, with --dry-run, says what it would do); the status to exit with. */
static int service_apply(const struct svc *s, const char *text, const char *conf) {
  struct passwd *pw = getpwnam(s->user);
  struct group *gr = getgrnam(s->group);
  if (s->dry_run) {
    printf("would write %s:\n\n%s\n", conf, text);
    if (!gr) printf("would make the group: groupadd --system %s\n", s->group);
    printf("would make %s%s: owner %s, group %s, mode 2750%s\n", s->root, s->dir, s->user,
           s->group, pw ? "" : " (no such user here yet)");
    printf("then, to apply it:\n");
    apply_commands(s->unit, "  ");
    return 0;
  }
  if (!pw) {
    fprintf(stderr, "wslalloc service: no user '%s' here: install the service first, or "
                    "name its user with --user\n", s->user);
    return 1;
  }
  uid_t uid = pw->pw_uid;
  if (!gr) {
    if (s->root[0] || geteuid() != 0) {
      fprintf(stderr, "wslalloc service: no group '%s': make it with `sudo groupadd "
                      "--system %s`, or name another with --group\n", s->group, s->group);
      return 1;
    }
    char *const cmd[] = {"groupadd", "--system", (char *)s->group, NULL};
    if (run_command(cmd) != 0 || !(gr = getgrnam(s->group))) {
      fprintf(stderr, "wslalloc service: `groupadd --system %s` failed; make the group "
                      "yourself, or name another with --group\n", s->group);
      return 1;
    }
    printf("made the group %s\n", s->group);
  }
  gid_t gid = gr->gr_gid;
  if (!readable_by(s->lib, uid))
    fprintf(stderr, "wslalloc service: warning: user %s may not be able to read %s (a "
                    "private directory on the way?): install the package, or name a "
                    "library it can read with --lib\n", s->user, s->lib);
  if (make_recording_dir(s, uid, gid) != 0) return 1;
  if (write_dropin(s, text) != 0) return 1;
  printf("wrote %s:\n\n%s\n", conf, text);
  printf("recordings go to %s%s: owner %s, group %s, mode 2750\n\n", s->root, s->dir, s->user,
         s->group);
  printf("To apply it:\n");
  apply_commands(s->unit, "  ");
  printf("\nUntil the restart nothing changes for the running service.\n"
         "After it, %s and every runner it starts inherit the preload,\n"
         "and each process writes its own recording into %s->\n"
         "Members of group %s read them: `sudo usermod -aG %s $USER`, then log in again;\n"
         "`wslalloc ls` and `wslalloc report` find them there.\n",
         s->unit, s->dir, s->group, s->group);
  return 0;
}

int cmd_service(int argc, char **argv) {
  static struct svc s;
  memset(&s, 0, sizeof s);
  struct service_args a;
  int rc = service_options(argc, argv, &s, &a);
  if (rc >= 0) return rc;
  const char *unit = a.unit, *user = a.user, *group = a.group, *dir = a.dir, *root = a.root;
  if (optind < argc) {
    if (unit || optind + 1 < argc)
      return usage_error("%s: one unit only", argv[argc - 1]);
    unit = argv[optind];
  }
  if (!unit) unit = "ollama";
  char unit_buf[256];
  snprintf(unit_buf, sizeof unit_buf, "%s", unit);
  size_t ul = strlen(unit_buf);
  if (ul > 8 && !strcmp(unit_buf + ul - 8, ".service")) unit_buf[ul - 8] = '\0';
  if (!unit_name_ok(unit_buf))
    return usage_error("%s: not a systemd unit name (letters, digits, \":-_.@\")", unit);
  s.unit = unit_buf;
  if (root[0] && root[0] != '/') return usage_error("--root %s: not an absolute path", root);
  char root_buf[2048];
  snprintf(root_buf, sizeof root_buf, "%s", root);
  while (strlen(root_buf) > 0 && root_buf[strlen(root_buf) - 1] == '/')
    root_buf[strlen(root_buf) - 1] = '\0';
  s.root = root_buf;
  char dir_buf[WSLA_OPT_PATH_MAX];
  if (dir) snprintf(dir_buf, sizeof dir_buf, "%s", dir);
  else snprintf(dir_buf, sizeof dir_buf, "/var/lib/wslalloc/%s", s.unit);
  if (!path_ok(dir_buf))
    return usage_error("--dir %s: not an absolute path without spaces, colons or quotes",
                       dir_buf);
  s.dir = dir_buf;
  if (a.remove) return do_remove(&s);

  char user_buf[64];
  if (user) {
    snprintf(user_buf, sizeof user_buf, "%s", user);
  } else {
    char from_unit[256];
    unit_user(s.root, s.unit, from_unit, sizeof from_unit);
    snprintf(user_buf, sizeof user_buf, "%s",
             from_unit[0] ? from_unit : !strcmp(s.unit, "ollama") ? "ollama" : "root");
  }
  if (!account_name_ok(user_buf)) return usage_error("--user %s: not a user name", user_buf);
  if (!account_name_ok(group)) return usage_error("--group %s: not a group name", group);
  s.user = user_buf;
  s.group = group;

  char lib_buf[4096];
  if ((rc = service_library(a.lib, lib_buf, sizeof lib_buf)) != 0) return rc;
  s.lib = lib_buf;

  char text[8192];
  dropin_text(&s, text, sizeof text);
  char conf[4096];
  snprintf(conf, sizeof conf, "%s/etc/systemd/system/%s.service.d/wslalloc.conf", s.root,
           s.unit);
  return service_apply(&s, text, conf);
}
