# SPDX-License-Identifier: MIT
"""bench/RESULTS.md is a list of "## " sections, each written by one script:
replace_section() swaps one in place (or appends it), leaving the others."""


def replace_section(md_path, title, section):
    try:
        with open(md_path) as f:
            md = f.read()
    except OSError:
        md = "# Results\n"
    section = section.rstrip() + "\n"
    start = md.find(title)
    if start < 0:
        md = md.rstrip() + "\n\n" + section
    else:
        nxt = md.find("\n## ", start + len(title))
        rest = md[nxt + 1:] if nxt >= 0 else ""
        md = md[:start] + section + ("\n" + rest if rest else "")
    with open(md_path, "w") as f:
        f.write(md)
