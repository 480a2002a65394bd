/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.h: the systemd notification protocol (sd_notify), spoken
 * directly: a datagram to $NOTIFY_SOCKET. A no-op when it is not set.
 */
#ifndef WALD_NOTIFY_H
#define WALD_NOTIFY_H

#include <stdint.h>

void	notify_init(void);
void	notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd asked for (WATCHDOG_USEC), or 0. */
uint64_t notify_watchdog_usec(void);

#endif
