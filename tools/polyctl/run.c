// SPDX-License-Identifier: MIT
/* TEMPORARY placeholder until the verb lands; replaced by its owner. */
#include "polyctl.h"

int cmd_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return polyctl_fail("run", "not built yet");
}
