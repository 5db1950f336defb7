/* policy_cases.h - malformed policies and the exact error each must get.
 * The document is parsed as "case.yaml"; positions are LINE:COLUMN, 1-based. */

struct policy_case {
	const char *name;
	const char *yaml;
	size_t len;
	const char *error;
};

#define CASE(n, y, e) { n, y, sizeof(y) - 1, e }

static const struct policy_case bad_policies[] = {
	CASE("anchor",
	     "version: 1\n"
	  "limits: &l\n"
	  "  memory_mb: 100\n"
	  "validation: *l\n"
	  "",
	     "case.yaml:2:9: anchors and aliases are not allowed in policy files"),
	CASE("bool_garbage",
	     "version: 1\n"
	  "sandbox:\n"
	  "  seccomp: maybe\n"
	  "",
	     "case.yaml:3:12: key 'sandbox.seccomp': expected true or false, got 'maybe'"),
	CASE("bool_null",
	     "version: 1\n"
	  "sandbox:\n"
	  "  landlock:\n"
	  "",
	     "case.yaml:3:12: key 'sandbox.landlock': missing value"),
	CASE("bool_quoted",
	     "version: 1\n"
	  "sandbox:\n"
	  "  landlock: \"true\"\n"
	  "",
	     "case.yaml:3:13: key 'sandbox.landlock': expected a boolean, got a quoted string"),
	CASE("complex_key",
	     "version: 1\n"
	  "? [a, b]\n"
	  ": 1\n"
	  "",
	     "case.yaml:2:3: keys must be plain strings, got a list"),
	CASE("debug_attempts_zero",
	     "version: 1\n"
	  "debug:\n"
	  "  max_attempts: 0\n"
	  "",
	     "case.yaml:3:17: key 'debug.max_attempts': 0 is out of range [1, 20]"),
	CASE("dup_key",
	     "version: 1\n"
	  "limits:\n"
	  "  memory_mb: 100\n"
	  "  memory_mb: 200\n"
	  "",
	     "case.yaml:4:3: duplicate key 'limits.memory_mb' (first at line 3)"),
	CASE("dup_section",
	     "version: 1\n"
	  "limits: {}\n"
	  "limits: {}\n"
	  "",
	     "case.yaml:3:1: duplicate key 'limits' (first at line 2)"),
	CASE("empty",
	     "",
	     "case.yaml:1:1: empty policy: at least 'version: 1' is required"),
	CASE("enum_bad",
	     "version: 1\n"
	  "sandbox:\n"
	  "  cgroups: v3\n"
	  "",
	     "case.yaml:3:12: key 'sandbox.cgroups': expected one of auto|v1|v2|off, got 'v3'"),
	CASE("export_failure_bad",
	     "version: 1\n"
	  "validation:\n"
	  "  export_failure: ignore\n"
	  "",
	     "case.yaml:3:19: key 'validation.export_failure': expected one of reject|in-process, got 'ignore'"),
	CASE("int_float",
	     "version: 1\n"
	  "limits:\n"
	  "  memory_mb: 12.5\n"
	  "",
	     "case.yaml:3:14: key 'limits.memory_mb': expected an integer, got '12.5'"),
	CASE("int_garbage",
	     "version: 1\n"
	  "limits:\n"
	  "  memory_mb: lots\n"
	  "",
	     "case.yaml:3:14: key 'limits.memory_mb': expected an integer, got 'lots'"),
	CASE("int_high",
	     "version: 1\n"
	  "limits:\n"
	  "  max_pids: 1000000\n"
	  "",
	     "case.yaml:3:13: key 'limits.max_pids': 1000000 is out of range [1, 100000]"),
	CASE("int_low",
	     "version: 1\n"
	  "limits:\n"
	  "  memory_mb: 1\n"
	  "",
	     "case.yaml:3:14: key 'limits.memory_mb': 1 is out of range [16, 1048576]"),
	CASE("int_negative",
	     "version: 1\n"
	  "limits:\n"
	  "  max_open_files: -5\n"
	  "",
	     "case.yaml:3:19: key 'limits.max_open_files': -5 is out of range [16, 65536]"),
	CASE("leaf_mapping",
	     "version: 1\n"
	  "limits:\n"
	  "  memory_mb:\n"
	  "    value: 5\n"
	  "",
	     "case.yaml:4:5: key 'limits.memory_mb': expected an integer, got a mapping"),
	CASE("list_bad_env",
	     "version: 1\n"
	  "sandbox:\n"
	  "  environment:\n"
	  "    - NOEQUALS\n"
	  "",
	     "case.yaml:4:7: key 'sandbox.environment': item 'NOEQUALS' is not KEY=VALUE with KEY made of letters, digits and '_'"),
	CASE("list_bad_ident",
	     "version: 1\n"
	  "python:\n"
	  "  static_check:\n"
	  "    banned_builtins:\n"
	  "      - 'ev al'\n"
	  "",
	     "case.yaml:5:9: key 'python.static_check.banned_builtins': item 'ev al' is not a Python identifier"),
	CASE("list_bad_module",
	     "version: 1\n"
	  "python:\n"
	  "  allowed_imports:\n"
	  "    - \"torch nn\"\n"
	  "",
	     "case.yaml:4:7: key 'python.allowed_imports': item 'torch nn' is not a dotted module name, optionally ending in \".*\""),
	CASE("list_dup_item",
	     "version: 1\n"
	  "python:\n"
	  "  allowed_imports:\n"
	  "    - torch\n"
	  "    - math\n"
	  "    - torch\n"
	  "",
	     "case.yaml:6:7: key 'python.allowed_imports': duplicate item 'torch'"),
	CASE("list_nested",
	     "version: 1\n"
	  "python:\n"
	  "  allowed_imports:\n"
	  "    - [torch]\n"
	  "",
	     "case.yaml:4:7: key 'python.allowed_imports': list items must be scalars, got a list"),
	CASE("list_null_item",
	     "version: 1\n"
	  "python:\n"
	  "  allowed_imports:\n"
	  "    - torch\n"
	  "    -\n"
	  "",
	     "case.yaml:5:6: key 'python.allowed_imports': item '' is not a dotted module name, optionally ending in \".*\""),
	CASE("list_scalar",
	     "version: 1\n"
	  "python:\n"
	  "  allowed_imports: torch\n"
	  "",
	     "case.yaml:3:20: key 'python.allowed_imports': expected a list, got a scalar"),
	CASE("no_version",
	     "limits:\n"
	  "  memory_mb: 100\n"
	  "",
	     "case.yaml:1:1: missing required key 'version' (this program reads version: 1)"),
	CASE("not_utf8",
	     "version: 1\n"
	  "storage:\n"
	  "  db: \"\xff""\xfe""\"\n"
	  "",
	     "case.yaml:3:8: the file is not UTF-8 text (an invalid byte sequence)"),
	CASE("num_garbage",
	     "version: 1\n"
	  "limits:\n"
	  "  wall_timeout_s: soon\n"
	  "",
	     "case.yaml:3:19: key 'limits.wall_timeout_s': expected a number, got 'soon'"),
	CASE("num_nan",
	     "version: 1\n"
	  "limits:\n"
	  "  cpu_time_s: .nan\n"
	  "",
	     "case.yaml:3:15: key 'limits.cpu_time_s': expected a number, got '.nan'"),
	CASE("num_quoted",
	     "version: 1\n"
	  "limits:\n"
	  "  wall_timeout_s: '10'\n"
	  "",
	     "case.yaml:3:19: key 'limits.wall_timeout_s': expected a number, got a quoted string"),
	CASE("num_zero",
	     "version: 1\n"
	  "limits:\n"
	  "  wall_timeout_s: 0\n"
	  "",
	     "case.yaml:3:19: key 'limits.wall_timeout_s': 0 is out of range [0.1, 86400]"),
	CASE("only_comment",
	     "# nothing\n"
	  "",
	     "case.yaml:1:1: empty policy: at least 'version: 1' is required"),
	CASE("root_list",
	     "- version\n"
	  "",
	     "case.yaml:1:1: the document must be a mapping, got a list"),
	CASE("root_scalar",
	     "hello\n"
	  "",
	     "case.yaml:1:1: the document must be a mapping, got a scalar"),
	CASE("section_list",
	     "version: 1\n"
	  "limits:\n"
	  "  - memory_mb\n"
	  "",
	     "case.yaml:3:3: key 'limits': expected a mapping (a section), got a list"),
	CASE("section_scalar",
	     "version: 1\n"
	  "limits: 5\n"
	  "",
	     "case.yaml:2:9: key 'limits': expected a mapping (a section), got a scalar"),
	CASE("syntax_bad_indent",
	     "version: 1\n"
	  "limits:\n"
	  "  memory_mb: 5\n"
	  "   max_pids: 3\n"
	  "",
	     "case.yaml:4:12: YAML syntax error: mapping values are not allowed in this context"),
	CASE("syntax_tab",
	     "version: 1\n"
	  "limits:\n"
	  "\tmemory_mb: 5\n"
	  "",
	     "case.yaml:3:1: YAML syntax error: found character that cannot start any token while scanning for the next token"),
	CASE("syntax_unclosed_flow",
	     "version: 1\n"
	  "limits: {memory_mb: 5\n"
	  "",
	     "case.yaml:3:1: YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping"),
	CASE("syntax_unclosed_quote",
	     "version: 1\n"
	  "storage:\n"
	  "  db: \"/tmp/x\n"
	  "",
	     "case.yaml:4:1: YAML syntax error: found unexpected end of stream while scanning a quoted scalar"),
	CASE("training_drop_high",
	     "version: 1\n"
	  "validation:\n"
	  "  training:\n"
	  "    min_loss_drop: 1.5\n"
	  "",
	     "case.yaml:4:20: key 'validation.training.min_loss_drop': 1.5 is out of range [0, 1]"),
	CASE("two_docs",
	     "version: 1\n"
	  "---\n"
	  "version: 1\n"
	  "",
	     "case.yaml:3:1: a policy file holds one YAML document; found a second"),
	CASE("unknown_deep",
	     "version: 1\n"
	  "sandbox:\n"
	  "  namespaces:\n"
	  "    uts: true\n"
	  "",
	     "case.yaml:4:5: unknown key 'sandbox.namespaces.uts'"),
	CASE("unknown_nested",
	     "version: 1\n"
	  "limits:\n"
	  "  memory: 100\n"
	  "",
	     "case.yaml:3:3: unknown key 'limits.memory'"),
	CASE("unknown_top",
	     "version: 1\n"
	  "limit:\n"
	  "  memory_mb: 10\n"
	  "",
	     "case.yaml:2:1: unknown key 'limit' (did you mean 'limits'?)"),
	CASE("every_error_at_once",
	     "limits:\n"
	  "  wall_timout_s: 5\n"
	  "  memory_mb: lots\n"
	  "sandbox:\n"
	  "  thread: 2\n"
	  "",
	     "case.yaml:1:1: missing required key 'version' (this program reads version: 1)\n"
	     "case.yaml:2:3: unknown key 'limits.wall_timout_s' (did you mean 'limits.wall_timeout_s'?)\n"
	     "case.yaml:3:14: key 'limits.memory_mb': expected an integer, got 'lots'\n"
	     "case.yaml:5:3: unknown key 'sandbox.thread' (did you mean 'sandbox.threads'?)"),
	CASE("version_2",
	     "version: 2\n"
	  "",
	     "case.yaml:1:10: unsupported policy version '2' (this program reads version: 1)"),
	CASE("version_string",
	     "version: \"1\"\n"
	  "",
	     "case.yaml:1:10: key 'version': expected an integer, got a quoted string"),
};
