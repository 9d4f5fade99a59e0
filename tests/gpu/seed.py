"""The suite's base seed: $MARLIN_TEST_SEED, else random (one value per process)."""

import os
import random

SEED = int(os.environ.get("MARLIN_TEST_SEED") or random.SystemRandom().randrange(1, 2**31))
