/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helpers-noleaks.c: linked into every test helper (the programs of
 * tests/helpers), never into walld, walctl or libwal. In the sanitizer
 * build it turns LeakSanitizer's exit-time scan off for the helpers
 * alone: the tests start some of them hundreds of times (hostile_frames
 * starts rawclient 300 times in a row), the scan costs about 0.25 s a
 * process, and a leak in a test's own client says nothing about walld.
 * Address and undefined behaviour checks stay on, and walld, walctl and
 * the Check suites keep the leak scan.
 */
#if defined(__SANITIZE_ADDRESS__)
const char	*__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return ("detect_leaks=0");
}
#endif
