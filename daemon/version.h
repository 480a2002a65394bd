/* SPDX-License-Identifier: Apache-2.0 */
/*
 * version.h: walld's version, in one place: `walld --version`, the
 * start-up line of the log, the HELLO reply's server string and the
 * "version" line of the stats text (walld_build_info).
 */
#ifndef WALD_VERSION_H
#define WALD_VERSION_H

#define WALD_VERSION	"0.1.0"

#endif
