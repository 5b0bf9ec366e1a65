/* test_build_parse.c - the Dockerfile parser and the shell-word expansion, against the
 * classic builder's rules and messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "build/dockerfile.h"
#include "common/cleanup.h"
#include "common/err.h"

static struct dockerfile *parse_ok(const char *text) {
        struct dockerfile *df = NULL;
        struct berr err = { 0 };
        if (dockerfile_parse(text, strlen(text), &df, &err) < 0)
                fail_msg("%s: %s", text, err.msg);
        return df;
}

static void assert_parse_error(const char *text, const char *msg) {
        struct dockerfile *df = NULL;
        struct berr err = { 0 };
        int r = dockerfile_parse(text, strlen(text), &df, &err);
        if (r >= 0) {
                dockerfile_free(df);
                fail_msg("accepted: %s", text);
        }
        assert_int_equal(err.kind, BERR_INVALID);
        assert_string_equal(err.msg, msg);
}

static void test_parse_forms_and_continuations(void **state) {
        struct dockerfile *df = parse_ok("# syntax=docker/dockerfile:1\n"
                                         "# a comment\n"
                                         "FROM busybox AS Base\n"
                                         "\n"
                                         "RUN echo a \\\n"
                                         "  # comment inside\n"
                                         "    b\n"
                                         "CMD [\"sh\", \"-c\", \"echo hi\"]\n"
                                         "entrypoint [not json\n");
        assert_int_equal(df->n, 4);
        assert_int_equal(df->escape, '\\');
        assert_int_equal(df->instrs[0].kind, DF_FROM);
        assert_int_equal(df->instrs[0].line, 3);
        assert_int_equal(df->instrs[0].n_args, 3);
        assert_string_equal(df->instrs[0].args[2], "base"); /* stage names are lower-cased */
        assert_string_equal(df->instrs[0].source, "FROM busybox AS Base");
        assert_int_equal(df->instrs[1].kind, DF_RUN);
        assert_int_equal(df->instrs[1].line, 5);
        assert_false(df->instrs[1].json);
        assert_int_equal(df->instrs[1].n_args, 1);
        assert_string_equal(df->instrs[1].args[0], "echo a     b");
        assert_string_equal(df->instrs[1].source, "RUN echo a     b");
        assert_true(df->instrs[2].json);
        assert_int_equal(df->instrs[2].n_args, 3);
        assert_string_equal(df->instrs[2].args[2], "echo hi");
        assert_int_equal(df->instrs[3].kind, DF_ENTRYPOINT);
        assert_false(df->instrs[3].json);
        assert_string_equal(df->instrs[3].args[0], "[not json");
        assert_int_equal(df->n_warnings, 0);
        dockerfile_free(df);
}

static void test_parse_empty_continuation_warns(void **state) {
        struct dockerfile *df = parse_ok("FROM scratch\nRUN a \\\n\n  b\n");
        assert_int_equal(df->n, 2);
        assert_string_equal(df->instrs[1].args[0], "a   b");
        assert_int_equal(df->n_warnings, 1);
        assert_string_equal(df->warnings[0], "[WARNING]: Empty continuation line found in:\n    RUN a   b");
        dockerfile_free(df);
}

static void test_parse_escape_directive(void **state) {
        struct dockerfile *df = parse_ok("# escape=`\nFROM busybox\nRUN echo a `\n b\\c\n");
        assert_int_equal(df->escape, '`');
        assert_int_equal(df->n, 2);
        assert_string_equal(df->instrs[1].args[0], "echo a  b\\c");
        dockerfile_free(df);
        /* a directive after an instruction is a comment */
        df = parse_ok("FROM busybox\n# escape=`\nRUN a \\\n b\n");
        assert_int_equal(df->escape, '\\');
        assert_string_equal(df->instrs[1].args[0], "a  b");
        dockerfile_free(df);
        assert_parse_error("# escape=x\nFROM busybox\n", "invalid escape token 'x' does not match ` or \\");
}

static void test_parse_flags(void **state) {
        struct dockerfile *df = parse_ok("FROM --platform=linux/amd64 busybox\n"
                                         "COPY --from=0 --chown=1:2 /a /b\n"
                                         "ADD --chown=\"1 2\" x y\n"
                                         "COPY -- --weird /d/\n"
                                         "HEALTHCHECK --interval=5s --retries=3 CMD true\n");
        assert_string_equal(df_flag(&df->instrs[0], "platform"), "linux/amd64");
        assert_string_equal(df_flag(&df->instrs[1], "from"), "0");
        assert_string_equal(df_flag(&df->instrs[1], "chown"), "1:2");
        assert_int_equal(df->instrs[1].n_args, 2);
        assert_string_equal(df_flag(&df->instrs[2], "chown"), "1 2");
        assert_null(df_flag(&df->instrs[3], "from"));
        assert_string_equal(df->instrs[3].args[0], "--weird");
        assert_int_equal(df->instrs[4].n_args, 2);
        assert_string_equal(df->instrs[4].args[0], "CMD-SHELL");
        assert_string_equal(df->instrs[4].args[1], "true");
        assert_string_equal(df_flag(&df->instrs[4], "retries"), "3");
        dockerfile_free(df);
        assert_parse_error("FROM busybox\nCOPY --chwn=1 a b\n", "dockerfile parse error on line 2: unknown flag: chwn");
        assert_parse_error("FROM busybox\nRUN --mount=type=cache true\n",
                           "dockerfile parse error on line 2: unknown flag: mount");
        assert_parse_error("FROM busybox\nCOPY --from a b\n",
                           "dockerfile parse error on line 2: missing a value on flag: from");
}

static void test_parse_errors_as_dockerd(void **state) {
        assert_parse_error("FROM busybox\n\nFOO bar\n", "dockerfile parse error on line 3: unknown instruction: FOO");
        assert_parse_error("FROM a b\n", "dockerfile parse error on line 1: FROM requires either one or three arguments");
        assert_parse_error("FROM a AS 1x\n",
                           "dockerfile parse error on line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols");
        assert_parse_error("FROM a\nCOPY onlyone\n",
                           "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined");
        assert_parse_error("FROM a\nRUN\n", "dockerfile parse error on line 2: RUN requires at least one argument");
        assert_parse_error("FROM a\nWORKDIR\n", "dockerfile parse error on line 2: WORKDIR requires exactly one argument");
        assert_parse_error("FROM a\nENV x\n", "dockerfile parse error on line 2: ENV must have two arguments");
        assert_parse_error("FROM a\nENV a=b c\n",
                           "dockerfile parse error on line 2: Syntax error - can't find = in \"c\". Must be of the form: name=value");
        assert_parse_error("FROM a\nSHELL sh -c\n",
                           "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form");
        assert_parse_error("FROM a\nONBUILD ONBUILD RUN x\n",
                           "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        assert_parse_error("FROM a\nONBUILD FROM x\n",
                           "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger");
        assert_parse_error("FROM a\nHEALTHCHECK NONE x\n",
                           "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments");
        assert_parse_error("FROM a\nHEALTHCHECK FOO x\n",
                           "dockerfile parse error on line 2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)");
        assert_parse_error("FROM a\nHEALTHCHECK --retries=-1 CMD x\n",
                           "dockerfile parse error on line 2: --retries cannot be negative (-1)");
        assert_parse_error("FROM a\nVOLUME [\"\"]\n",
                           "dockerfile parse error on line 2: VOLUME specified can not be an empty string");
}

static void test_parse_env_label_arg_onbuild(void **state) {
        struct dockerfile *df = parse_ok("ARG V=1\nFROM a\nENV A=1 B=\"x y\" C=z\\ w\nENV OLD value with spaces\n"
                                         "LABEL \"k 1\"=v\nARG NODEF\nONBUILD RUN echo hi\nEXPOSE 80/tcp 443\n");
        assert_int_equal(df->instrs[0].kind, DF_ARG);
        assert_string_equal(df->instrs[0].kv[0].key, "V");
        assert_string_equal(df->instrs[0].kv[0].value, "1");
        struct df_instr *env = &df->instrs[2];
        assert_int_equal(env->n_kv, 3);
        assert_string_equal(env->kv[1].key, "B");
        assert_string_equal(env->kv[1].value, "\"x y\"");
        assert_string_equal(env->kv[2].value, "z\\ w");
        assert_string_equal(df->instrs[3].kv[0].key, "OLD");
        assert_string_equal(df->instrs[3].kv[0].value, "value with spaces");
        assert_string_equal(df->instrs[4].kv[0].key, "\"k 1\"");
        assert_null(df->instrs[5].kv[0].value);
        assert_string_equal(df->instrs[6].trigger, "RUN echo hi");
        assert_int_equal(df->instrs[7].n_args, 2);
        dockerfile_free(df);
}

static const char *lookup(void *opaque, const char *name) {
        (void) opaque;
        if (STREQ(name, "A"))
                return "alpha";
        if (STREQ(name, "E"))
                return "";
        if (STREQ(name, "SP"))
                return "x y";
        return NULL;
}

static void assert_expands(const char *in, const char *out) {
        _cleanup_free_ char *got = NULL;
        struct berr err = { 0 };
        if (df_expand_word(in, '\\', lookup, NULL, &got, &err) < 0)
                fail_msg("%s: %s", in, err.msg);
        assert_string_equal(got, out);
}

static void assert_expand_error(const char *in, const char *msg) {
        _cleanup_free_ char *got = NULL;
        struct berr err = { 0 };
        if (df_expand_word(in, '\\', lookup, NULL, &got, &err) >= 0)
                fail_msg("%s: expanded to %s", in, got);
        assert_string_equal(err.msg, msg);
}

static void test_expand_shell_words(void **state) {
        assert_expands("$A", "alpha");
        assert_expands("${A}x", "alphax");
        assert_expands("$A.b", "alpha.b");
        assert_expands("$NOPE-", "-");
        assert_expands("${NOPE:-def}", "def");
        assert_expands("${E:-def}", "def");
        assert_expands("${E-def}", "");
        assert_expands("${A:-def}", "alpha");
        assert_expands("${A:+set}", "set");
        assert_expands("${E:+set}", "");
        assert_expands("${E+set}", "set");
        assert_expands("${NOPE:+set}", "");
        assert_expands("${NOPE:-${A}}", "alpha");
        assert_expands("'$A'", "$A");
        assert_expands("\"$A b\"", "alpha b");
        assert_expands("\\$A", "$A");
        assert_expands("\"\\$A \\q\"", "$A \\q");
        assert_expands("a\\ b", "a b");
        assert_expands("$", "$");
        assert_expands("x\\", "x");
        assert_expand_error("${A:=x}", "unsupported modifier (=) in substitution");
        assert_expand_error("${NOPE:?needed}", "NOPE: needed");
        assert_expand_error("'open", "unexpected end of statement while looking for matching single-quote");
        assert_expand_error("\"open", "unexpected end of statement while looking for matching double-quote");
}

static void test_expand_words_splits_unquoted(void **state) {
        char **w = NULL;
        size_t n = 0;
        struct berr err = { 0 };
        assert_int_equal(df_expand_words("80 $SP \"1 2\"", '\\', lookup, NULL, &w, &n, &err), 0);
        assert_int_equal(n, 4);
        assert_string_equal(w[0], "80");
        assert_string_equal(w[1], "x");
        assert_string_equal(w[2], "y");
        assert_string_equal(w[3], "1 2");
        strv_free(w);
}

/* Instructions, words, ENV pairs, continuation lines and expanded words by the hundred:
 * the arrays and the joined line grow past many powers of two and keep every piece. */
static void test_parse_many_pieces(void **state) {
        size_t cap = 1 << 20, len = 0;
        char *text = malloc(cap), expect[8192];
        assert_non_null(text);
#define ADD(...) (len += (size_t) snprintf(text + len, cap - len, __VA_ARGS__))
        ADD("FROM busybox\n");
        for (int i = 0; i < 1000; i++)
                ADD("RUN echo %d\n", i);
        ADD("COPY");
        for (int i = 0; i < 700; i++)
                ADD(" f%d", i);
        ADD(" /dst/\nENV");
        for (int i = 0; i < 600; i++)
                ADD(" k%d=v%d", i, i);
        ADD("\nRUN a \\\n");
        size_t e = (size_t) snprintf(expect, sizeof(expect), "a ");
        for (int i = 0; i < 300; i++) {
                ADD("b%d \\\n", i);
                e += (size_t) snprintf(expect + e, sizeof(expect) - e, "b%d ", i);
        }
        ADD("end\n");
        snprintf(expect + e, sizeof(expect) - e, "end");
#undef ADD
        struct dockerfile *df = parse_ok(text);
        assert_int_equal(df->n, 1 + 1000 + 3);
        char want[64];
        for (int i = 0; i < 1000; i++) {
                snprintf(want, sizeof(want), "echo %d", i);
                assert_string_equal(df->instrs[1 + i].args[0], want);
        }
        const struct df_instr *copy = &df->instrs[1001], *env = &df->instrs[1002], *run = &df->instrs[1003];
        assert_int_equal(copy->n_args, 701);
        for (int i = 0; i < 700; i++) {
                snprintf(want, sizeof(want), "f%d", i);
                assert_string_equal(copy->args[i], want);
        }
        assert_string_equal(copy->args[700], "/dst/");
        assert_int_equal(env->n_kv, 600);
        for (int i = 0; i < 600; i++) {
                snprintf(want, sizeof(want), "k%d", i);
                assert_string_equal(env->kv[i].key, want);
                snprintf(want, sizeof(want), "v%d", i);
                assert_string_equal(env->kv[i].value, want);
        }
        assert_int_equal(run->n_args, 1);
        assert_string_equal(run->args[0], expect);
        dockerfile_free(df);

        char **w = NULL;
        size_t n = 0;
        struct berr err = { 0 };
        assert_int_equal(df_expand_words(expect, '\\', lookup, NULL, &w, &n, &err), 0);
        assert_int_equal(n, 302);
        assert_string_equal(w[0], "a");
        assert_string_equal(w[150], "b149");
        assert_string_equal(w[301], "end");
        assert_null(w[302]);
        strv_free(w);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_forms_and_continuations),
                cmocka_unit_test(test_parse_empty_continuation_warns),
                cmocka_unit_test(test_parse_escape_directive),
                cmocka_unit_test(test_parse_flags),
                cmocka_unit_test(test_parse_errors_as_dockerd),
                cmocka_unit_test(test_parse_env_label_arg_onbuild),
                cmocka_unit_test(test_expand_shell_words),
                cmocka_unit_test(test_expand_words_splits_unquoted),
                cmocka_unit_test(test_parse_many_pieces),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
