/* The commands (each in its own file) and what several of them share:
   the report of a recording, the time window, the library to preload. */
#ifndef WSLA_COMMANDS_H
#define WSLA_COMMANDS_H

#include "rec.h"

int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* libwslalloc.so beside this program (build or install tree); -1 if none. */
int tool_find_library(char *out, size_t len);
/* Puts lib into LD_PRELOAD for the programs this one starts. */
void tool_set_preload(const char *lib);
int cmd_export(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_service(int argc, char **argv);

/* The report of a recording already open, as text or JSON. */
void report_rec(FILE *out, const struct rec *r, bool as_json);
/* The text report of path, to out; -1 with one line in err if unreadable. */
int report_text(FILE *out, const char *path, char *err, size_t errlen);

/* --from/--to in seconds after the process started; -1 where not given. */
struct window {
  double from, to;
};
#define WINDOW_ALL ((struct window){-1, -1})
/* Parses one bound into w: 0, or 2 after one line on stderr. */
int window_option(const char *cmd, struct window *w, bool is_from, const char *text);
/* 0, or 2 after one line on stderr when the window ends before it starts. */
int window_check(const char *cmd, const struct window *w);
/* Where the recording ends, in event-time: its end, or its last event. */
uint64_t rec_span_end_ns(const struct rec *r);
/* 0, or 2 after one line giving the recording's span when the window
   starts at or after its end. */
int window_fit(const char *cmd, const struct window *w, const struct rec *r);

#endif
