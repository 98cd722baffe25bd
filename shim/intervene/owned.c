/* Owned memory: the one table of allocations the shim serves itself. */
#include <pthread.h>

#include "owned.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct wsla_owned *all;
int wsla_owned_live;

void wsla_owned_put(struct wsla_owned *o) {
  /* From now on every free goes the general way, which gives the shim's
     own blocks back itself: set before the client is handed this one, so
     that whichever thread frees it sees the flag (the client's own
     hand-over of the address orders the two). */
  wsla_gate_set(WSLA_GATE_OWNED);
  pthread_mutex_lock(&lock);
  HASH_ADD(hh, all, addr, sizeof(uint64_t), o);
  __atomic_fetch_add(&wsla_owned_live, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&lock);
}

/* fork: the table is held across it, so the child gets it whole (never
   half-way through another thread's insertion) and with its lock free.
   The lock is a leaf: nothing is taken while it is held, so the wait in
   the prepare handler is a hash operation long. */
void wsla_owned_fork_prepare(void) { pthread_mutex_lock(&lock); }
void wsla_owned_fork_parent(void) { pthread_mutex_unlock(&lock); }
void wsla_owned_fork_child(void) { pthread_mutex_init(&lock, NULL); }

struct wsla_owned *wsla_owned_take(uint64_t addr) {
  struct wsla_owned *o;
  pthread_mutex_lock(&lock);
  HASH_FIND(hh, all, &addr, sizeof addr, o);
  if (o) {
    HASH_DEL(all, o);
    __atomic_fetch_sub(&wsla_owned_live, 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&lock);
  return o;
}
