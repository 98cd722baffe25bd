/* Everything the wslalloc command's parts share, by interface: the reader
   (rec/rec.h), JSON output (rec/json.h), the GPU runtime (runtime.h) and
   the commands (commands.h).  A file may include the one it needs. */
#ifndef WSLA_TOOL_H
#define WSLA_TOOL_H

#include "commands.h"
#include "json.h"
#include "rec.h"
#include "runtime.h"

#endif
