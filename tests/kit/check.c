/* check.c: what tests/check.h declares once for a whole test program: the count of failed
 * CHECKs, shared by the test and the kit's helpers, and the sanitizer builds' leak suppression. */
#include "check.h"

int check_failures;

/* Xapian 1.4.22's own QueryParser leaks a little on some syntax errors ("a AND NEAR/2",
 * "AND a 钢 b": 96 bytes allocated inside parse_query are never freed). That is not Souk's leak
 * and Souk cannot free it, so sanitizer builds tell LeakSanitizer to ignore allocations made
 * inside Xapian's parser; every other leak is still reported. */
#if defined(__SANITIZE_ADDRESS__)
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:Xapian::QueryParser::Internal::parse_query\n";
}
#endif
