"""flaw.py SRC DEST: write the flawed variant of a research-corpus model.

Every line of SRC that ends in '# flaw: CODE' is replaced by CODE (at the
line's own indentation); the file must have at least one.  The header
'# flawed: CHECK' names the check the variant must fail."""
import re
import sys

FLAW = re.compile(r"^(\s*)(\S.*?)\s+# flaw: (.+)$")


def flawed(text):
    out, n = [], 0
    for line in text.splitlines():
        m = FLAW.match(line)
        if m:
            line, n = m.group(1) + m.group(3), n + 1
        out.append(line)
    if not n:
        raise SystemExit("flaw.py: no '# flaw:' line")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        text = flawed(f.read())
    with open(sys.argv[2], "w") as f:
        f.write(text)
