/* Budgets' state: the requests let through and not yet counted live, which a child after fork starts without. */
#include "budget.h"

uint64_t wsla_budget_in_flight[WSLA_DEVICE_MAX + 1];

void wsla_budget_reset_after_fork(void) {
  /* The parent's calls in flight at the fork never end here. */
  for (unsigned i = 0; i <= WSLA_DEVICE_MAX; i++)
    __atomic_store_n(&wsla_budget_in_flight[i], 0, __ATOMIC_RELAXED);
  wsla_tls.budget_held = 0;
}
