#!/usr/bin/env python3
"""The mxclient binary must not link libcurl, GNU SASL or libidn2: they are opened with dlopen
only when an MTA-STS policy is fetched, a submission session authenticates or a domain has
U-labels or A-labels (src/core/shared_library.hpp), so that a plain delivery does not map their
~30 dependencies. Usage: lazy_libraries.py MXCLIENT"""
import subprocess
import sys

needed = [line.split()[1] for line in
          subprocess.run(["objdump", "-p", sys.argv[1]], check=True, capture_output=True,
                         text=True).stdout.splitlines()
          if line.strip().startswith("NEEDED")]
print("NEEDED:", " ".join(needed))
bad = [n for n in needed if n.startswith(("libcurl", "libgsasl", "libidn2"))]
if bad:
    sys.exit(f"{sys.argv[1]} links {', '.join(bad)} directly; they must be loaded lazily")
if not needed:
    sys.exit("objdump found no NEEDED entries: cannot check")
