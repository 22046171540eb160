#!/usr/bin/env python3
"""Man pages for lethe from its own command tree (swift-argument-parser's --experimental-dump-help, the ToolInfo
that its generate-manual plugin reads): lethe.1, and lethe-COMMAND[-SUB].1 for every command. Usage:
    scripts/man-pages.py LETHE_BINARY OUTPUT_DIR
A page per command, as git and pgBackRest ship them, so that `man lethe-purge` answers."""
import datetime, json, os, subprocess, sys

def roff(text):
    """Escapes text for roff: backslashes, and a leading dot or quote that would be read as a request."""
    text = (text or "").replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line for line in text.split("\n"))

def synopsis_name(arg):
    name = arg.get("preferredName") or (arg.get("names") or [{}])[0]
    prefix = "--" if name.get("kind") == "long" else "-"
    return prefix + name.get("name", "") if arg["kind"] != "positional" else "<%s>" % arg.get("valueName", "value")

def page(path, command, date, version, out):
    name = "-".join(path)
    subcommands = [s for s in command.get("subcommands", []) if s.get("shouldDisplay", True)]
    lines = ['.TH "%s" 1 "%s" "lethe %s" "Lethe Manual"' % (name.upper(), date, version),
             ".SH NAME", "%s \\- %s" % (roff(name), roff(command.get("abstract", ""))),
             ".SH SYNOPSIS", ".B %s" % roff(" ".join(path))]
    if subcommands:
        lines.append("\\fICOMMAND\\fR")
    for arg in command.get("arguments", []):
        if not arg.get("shouldDisplay", True):
            continue
        text = synopsis_name(arg)
        if arg["kind"] == "option":
            text += " <%s>" % arg.get("valueName", "value")
        if arg.get("isRepeating"):
            text += " ..."
        lines.append(("[%s]" if arg.get("isOptional") else "%s") % roff(text))
    if command.get("discussion"):
        lines += [".SH DESCRIPTION", roff(command["discussion"])]
    arguments = [a for a in command.get("arguments", []) if a.get("shouldDisplay", True)]
    if arguments:
        lines.append(".SH OPTIONS")
        for arg in arguments:
            names = ", ".join(("--" if n["kind"] == "long" else "-") + n["name"] for n in arg.get("names", [])) or synopsis_name(arg)
            if arg["kind"] == "option":
                names += " <%s>" % arg.get("valueName", "value")
            lines += [".TP", "\\fB%s\\fR" % roff(names), roff(arg.get("abstract", ""))]
            if arg.get("defaultValue"):
                lines.append("(default: %s)" % roff(arg["defaultValue"]))
    if subcommands:
        lines.append(".SH COMMANDS")
        for sub in subcommands:
            lines += [".TP", "\\fB%s\\fR" % roff(sub["commandName"]), roff(sub.get("abstract", "")),
                      "See \\fB%s\\fR(1)." % roff("-".join(path + [sub["commandName"]]))]
    lines += [".SH EXIT STATUS", "Stable across releases; \\fBlethe exit\\-codes\\fR lists them. 0 success, 1 a final check failed,",
              "64 usage, 65 bad data, 66 no input, 69 unavailable (worth retrying), 70 internal, 73 cannot create,",
              "74 I/O, 75 locked by another run, 77 permission or credentials, 78 configuration, 79 integrity, 80 legal hold.",
              ".SH SEE ALSO"]
    see = ["lethe"] if len(path) > 1 else []
    see += ["-".join(path + [s["commandName"]]) for s in subcommands]
    lines.append(", ".join("\\fB%s\\fR(1)" % roff(s) for s in see) or "\\fBlethe\\-worker\\fR(1)")
    with open(os.path.join(out, name + ".1"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for sub in subcommands:
        page(path + [sub["commandName"]], sub, date, version, out)

def main():
    binary, out = sys.argv[1], sys.argv[2]
    tree = json.loads(subprocess.check_output([binary, "--experimental-dump-help"]))["command"]
    version = subprocess.check_output([binary, "--version"], text=True).strip()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or None
    date = (datetime.datetime.utcfromtimestamp(epoch) if epoch else datetime.datetime.utcnow()).strftime("%Y-%m-%d")
    os.makedirs(out, exist_ok=True)
    page(["lethe"], tree, date, version, out)

if __name__ == "__main__":
    main()
