/* analyze.cc: text analysis (souk/analysis.h): a fast tokenizer that reproduces
 * Xapian's TermGenerator::index_text, with TermGenerator itself as fallback and reference,
 * behind the souk_analyzer API.
 *
 * Every extern "C" function catches every exception and maps it to a SOUK_E* code. */
#include "souk/buf.h"
#include "souk/souk.h"
#include "souk/analysis.h"

#include <xapian.h>

#include <strings.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace
{

struct LangEntry {
    const char *code;
    const char *stemmer;
};

const LangEntry kLanguages[] = {
    {"en", "english"},
    {"english", "english"},
    {"de", "german"},
    {"german", "german"},
    {"fr", "french"},
    {"french", "french"},
    {"es", "spanish"},
    {"spanish", "spanish"},
    {"it", "italian"},
    {"italian", "italian"},
    {"nl", "dutch"},
    {"dutch", "dutch"},
    {"pt", "portuguese"},
    {"portuguese", "portuguese"},
    {"ru", "russian"},
    {"russian", "russian"},
    {"sv", "swedish"},
    {"swedish", "swedish"},
    {"da", "danish"},
    {"danish", "danish"},
    {"nb", "norwegian"},
    {"no", "norwegian"},
    {"norwegian", "norwegian"},
    {"fi", "finnish"},
    {"finnish", "finnish"},
    {"hu", "hungarian"},
    {"hungarian", "hungarian"},
    {"ro", "romanian"},
    {"romanian", "romanian"},
    {"tr", "turkish"},
    {"turkish", "turkish"},
    {"zh", "none"},
    {"chinese", "none"},
    {"ja", "none"},
    {"ko", "none"},
    {"none", "none"},
    {"", "none"},
};

} // namespace

/* ------------------------------------------------------------------ fast analysis
 *
 * A re-implementation, for Xapian 1.4.22, of TermGenerator::index_text(text, wdf_inc, prefix)
 * with set_stemmer(Xapian::Stem(lang)) ("none" or "": no stemmer), STEM_SOME, no stopper, flags
 * 0 and the default max_word_length (64 bytes), proven equal to it by tests/test_analysis.c: it
 * produces exactly the terms, positions and wdf of TermGenerator's word splitting (parse_terms()
 * in queryparser/termgenerator_internal.cc) and its STEM_SOME term action, with an ASCII fast
 * path, a per-language stem cache and no per-word heap allocation. Character classification for
 * non-ASCII characters goes through the public Xapian::Unicode functions, so the Unicode tables
 * are the ones of the installed libxapian; the ASCII tables are built from those same functions
 * at start-up. Text it does not handle (CJK) goes, untouched, to the real TermGenerator
 * (souk_analyze_xapian).
 *
 * Rules implemented (each mirrors TermGenerator 1.4.22):
 *  1. Decoding: the text is decoded like Xapian::Utf8Iterator: an invalid,
 *     overlong (C0/C1 lead, E0 followed by < A0, F0 followed by < 90),
 *     above-U+10FFFF (F4 followed by >= 90, F5..FF lead) or truncated
 *     sequence yields its lead byte as one ISO-8859-1 character; stray
 *     continuation bytes likewise.  UTF-8 encoded surrogates (ED A0..BF xx)
 *     are accepted and decode to U+D800..U+DFFF (1.4.22 does not reject them).
 *  2. A word starts at a character for which Unicode::is_wordchar() is true
 *     (letters, marks, Nd/Nl/No numbers, connector punctuation such as '_');
 *     every word character is stored as Unicode::tolower(ch) in UTF-8.
 *  3. Acronyms: if the word starts with an ASCII capital, a run of ASCII
 *     capitals separated by single '.' (U.S.A., P.T.O) of at least two letters
 *     that is not directly followed by a word character becomes one term made
 *     of the lowercased letters ("usa").  No suffix handling applies to it.
 *  4. Infixes: a single character between two word characters is kept inside
 *     the word if (a) the characters before and after it are both decimal
 *     digits (category Nd) and it is one of , . ; U+037E U+0589 U+060D U+07F8
 *     U+2044 U+FE10 U+FE13 U+FE14 (1,000.5), or otherwise (b) it is one of
 *     ' & U+00B7 U+05F4 U+2027 (kept as is) or U+2019 U+201B (stored as ').
 *     Zero-width characters U+200B..U+200D, U+2060, U+FEFF between two word
 *     characters are dropped and the word continues (in both contexts).
 *  5. Suffixes: after a word, up to three '+' or '#' are appended (C++, C#);
 *     a fourth one cancels all of them; if a word character directly follows
 *     the suffix chars they are dropped too (fish+chips -> fish, chips).
 *  6. Terms longer than 64 bytes (the lowercased UTF-8 form, without prefix)
 *     are dropped and do NOT consume a term position.
 *  7. Each kept term is added as prefix + term at position ++termpos with
 *     wdf_inc; then, if a stemmer is set and the term's first character is in
 *     category Ll, Lt, Lm or Lo (should_stem(); so not for terms starting with
 *     a digit or '_'), "Z" + prefix + stem(term) is added without position
 *     (skipped if the stem is empty).
 *  8. Bail out (return 1, nothing emitted): any character in a CJK range (a
 *     superset of Xapian's CJK::codepoint_is_cjk(), so the result does not
 *     depend on the XAPIAN_CJK_NGRAM environment variable), an unknown stemmer
 *     language, or any internal error such as out of memory.
 */

/* Receives one term occurrence: the full term (prefix included, not NUL-terminated), its
 * position or 0 for a term without one (the "Z" + prefix + stem terms), and the wdf increment.
 * ctx is the caller's, passed through. The callback must not throw. */
typedef void (*fa_emit_fn)(void *ctx, const char *term, size_t len, unsigned pos, unsigned wdf_inc);

namespace
{

/* The analyzer's scratch bytes: the core's souk_buf (souk/buf.h) owned by a C++ object, with
 * running out of memory thrown as std::bad_alloc (no zero-initialisation, never shrinks by
 * itself). */

class ByteBuf
{
  public:
    ByteBuf() = default;
    ByteBuf(const ByteBuf &) = delete;
    ByteBuf &operator=(const ByteBuf &) = delete;
    ~ByteBuf()
    {
        souk_buf_free(&b_);
    }

    char *data()
    {
        return b_.p;
    }
    size_t size() const
    {
        return b_.len;
    }
    void clear()
    {
        b_.len = 0;
    }

    /* Make room for n more bytes; throws std::bad_alloc on failure. */
    void reserve_more(size_t n)
    {
        if (souk_buf_reserve(&b_, n))
            throw std::bad_alloc();
    }

    /* Append bytes; returns the offset they were stored at. */
    size_t append(const char *p, size_t n)
    {
        reserve_more(n);
        size_t off = b_.len;
        std::memcpy(b_.p + b_.len, p, n);
        b_.len += n;
        return off;
    }

    /* Release the memory if the buffer has grown beyond limit bytes. */
    void trim(size_t limit)
    {
        if (b_.cap > limit)
            souk_buf_free(&b_);
    }

  private:
    souk_buf b_ = {nullptr, 0, 0, 0};
};

/* Character classification. */

/* Xapian's TermGenerator default max_word_length (bytes). */
const size_t MAX_WORD_LENGTH = 64;

/* Term buffer capacity: words longer than this are only counted, not stored
 * (they are longer than MAX_WORD_LENGTH anyway).  Extra 8 bytes of slack let
 * the hash function read a whole 64-bit word. */
const size_t TERM_CAP = 128;

/* Returned by check_infix*() for characters that are skipped inside a word. */
const unsigned IGNORE_CH = 0xffffffffu;

/* ASCII lookup tables, derived from Xapian::Unicode so they agree with it. */
struct AsciiTables {
    unsigned char word_lower[128]; /* tolower(ch) if is_wordchar(ch), else 0 */
    bool digit[128];               /* category Nd */
    bool stem_first[128];          /* should_stem() category (Ll Lt Lm Lo) */

    AsciiTables()
    {
        for (unsigned ch = 0; ch < 128; ++ch) {
            bool w = Xapian::Unicode::is_wordchar(ch);
            word_lower[ch] = w ? static_cast<unsigned char>(Xapian::Unicode::tolower(ch)) : 0;
            Xapian::Unicode::category cat = Xapian::Unicode::get_category(ch);
            digit[ch] = (cat == Xapian::Unicode::DECIMAL_DIGIT_NUMBER);
            stem_first[ch] =
                (cat == Xapian::Unicode::LOWERCASE_LETTER ||
                 cat == Xapian::Unicode::TITLECASE_LETTER ||
                 cat == Xapian::Unicode::MODIFIER_LETTER || cat == Xapian::Unicode::OTHER_LETTER);
        }
    }
};

const AsciiTables &ascii_tables()
{
    static const AsciiTables tables;
    return tables;
}

/* TermGenerator's check_wordchar(): lowercased char if a word char, else 0. */
inline unsigned check_wordchar(const AsciiTables &t, unsigned ch)
{
    if (ch < 128)
        return t.word_lower[ch];
    if (!Xapian::Unicode::is_wordchar(ch))
        return 0;
    return Xapian::Unicode::tolower(ch);
}

inline bool is_wordchar(const AsciiTables &t, unsigned ch)
{
    if (ch < 128)
        return t.word_lower[ch] != 0;
    return Xapian::Unicode::is_wordchar(ch);
}

inline bool is_digit(const AsciiTables &t, unsigned ch)
{
    if (ch < 128)
        return t.digit[ch];
    return Xapian::Unicode::get_category(ch) == Xapian::Unicode::DECIMAL_DIGIT_NUMBER;
}

/* Zero-width characters that are silently dropped between word characters. */
inline bool is_zero_width(unsigned ch)
{
    return ch >= 0x200b && (ch <= 0x200d || ch == 0x2060 || ch == 0xfeff);
}

/* Infix characters allowed between two word chars (not digit-digit). */
inline unsigned check_infix(unsigned ch)
{
    if (ch == '\'' || ch == '&' || ch == 0xb7 || ch == 0x5f4 || ch == 0x2027)
        return ch;
    /* Right single quotation mark / single high-reversed-9 quotation mark
     * are stored as an ASCII apostrophe. */
    if (ch == 0x2019 || ch == 0x201b)
        return '\'';
    if (is_zero_width(ch))
        return IGNORE_CH;
    return 0;
}

/* Infix characters allowed between two decimal digits (1,000.5). */
inline unsigned check_infix_digit(unsigned ch)
{
    switch (ch) {
    case ',':
    case '.':
    case ';':
    case 0x037e: /* Greek question mark */
    case 0x0589: /* Armenian full stop */
    case 0x060d: /* Arabic date separator */
    case 0x07f8: /* NKo comma */
    case 0x2044: /* fraction slash */
    case 0xfe10: /* presentation form for vertical comma */
    case 0xfe13: /* presentation form for vertical colon */
    case 0xfe14: /* presentation form for vertical semicolon */
        return ch;
    }
    if (is_zero_width(ch))
        return IGNORE_CH;
    return 0;
}

/* Characters whose presence makes us hand the text to the real TermGenerator:
 * a superset of Xapian's CJK::codepoint_is_cjk() plus other Han, kana and
 * Hangul blocks. */
inline bool is_bail_char(unsigned ch)
{
    if (ch < 0x1100)
        return false;
    return (ch <= 0x11ff) ||                   /* Hangul Jamo */
           (ch >= 0x2e80 && ch <= 0x2fff) ||   /* CJK radicals, Kangxi, IDC */
           (ch >= 0x3000 && ch <= 0x9fff) ||   /* CJK symbols, kana, ..., Han */
           (ch >= 0xa700 && ch <= 0xa71f) ||   /* (in Xapian's CJK list) */
           (ch >= 0xa960 && ch <= 0xa97f) ||   /* Hangul Jamo Extended-A */
           (ch >= 0xac00 && ch <= 0xd7ff) ||   /* Hangul syllables, Jamo Ext-B */
           (ch >= 0xf900 && ch <= 0xfaff) ||   /* CJK compatibility ideographs */
           (ch >= 0xfe30 && ch <= 0xfe4f) ||   /* CJK compatibility forms */
           (ch >= 0xff00 && ch <= 0xffef) ||   /* half/fullwidth forms */
           (ch >= 0x1aff0 && ch <= 0x1b2ff) || /* kana supplements, Nushu */
           (ch >= 0x1f200 && ch <= 0x1f2ff) || /* enclosed ideographic supp. */
           (ch >= 0x20000 && ch <= 0x3ffff);   /* Han supplementary planes */
}

inline bool is_cont(unsigned char b)
{
    return (b & 0xc0) == 0x80;
}

/* Decode a non-ASCII character at p (p < end) exactly like Utf8Iterator. */
unsigned decode_nonascii(const unsigned char *p, const unsigned char *end, unsigned &seqlen)
{
    unsigned ch = p[0];
    size_t left = static_cast<size_t>(end - p);
    seqlen = 1;
    if (ch < 0xc2)
        return ch; /* stray continuation byte or overlong C0/C1 lead */
    if (ch < 0xe0) {
        if (left < 2 || !is_cont(p[1]))
            return ch;
        seqlen = 2;
        return ((ch & 0x1f) << 6) | (p[1] & 0x3f);
    }
    if (ch < 0xf0) {
        if (left < 3 || !is_cont(p[1]) || !is_cont(p[2]) || (ch == 0xe0 && p[1] < 0xa0))
            return ch;
        seqlen = 3;
        return ((ch & 0x0f) << 12) | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f);
    }
    if (ch >= 0xf5 || left < 4 || !is_cont(p[1]) || !is_cont(p[2]) || !is_cont(p[3]) ||
        (ch == 0xf0 && p[1] < 0x90) || (ch == 0xf4 && p[1] >= 0x90))
        return ch;
    seqlen = 4;
    return ((ch & 0x07) << 18) | ((p[1] & 0x3f) << 12) | ((p[2] & 0x3f) << 6) | (p[3] & 0x3f);
}

/* Encode ch (< 0x200000, as Xapian::Unicode::to_utf8 does) into buf. */
inline unsigned encode_utf8(unsigned ch, char *buf)
{
    if (ch < 0x80) {
        buf[0] = static_cast<char>(ch);
        return 1;
    }
    if (ch < 0x800) {
        buf[0] = static_cast<char>(0xc0 | (ch >> 6));
        buf[1] = static_cast<char>(0x80 | (ch & 0x3f));
        return 2;
    }
    if (ch < 0x10000) {
        buf[0] = static_cast<char>(0xe0 | (ch >> 12));
        buf[1] = static_cast<char>(0x80 | ((ch >> 6) & 0x3f));
        buf[2] = static_cast<char>(0x80 | (ch & 0x3f));
        return 3;
    }
    buf[0] = static_cast<char>(0xf0 | (ch >> 18));
    buf[1] = static_cast<char>(0x80 | ((ch >> 12) & 0x3f));
    buf[2] = static_cast<char>(0x80 | ((ch >> 6) & 0x3f));
    buf[3] = static_cast<char>(0x80 | (ch & 0x3f));
    return 4;
}

/* Stem cache: open addressing table word -> stem, storage in one byte pool. */

/* Mask keeping the first n (1..7) bytes of a 64-bit word loaded with memcpy. */
inline uint64_t first_bytes_mask(size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (~0ull) << (64 - 8 * n);
#else
    return (~0ull) >> (64 - 8 * n);
#endif
}

inline uint64_t hash_term(const char *p, size_t n)
{
    /* p has at least 8 readable bytes past p + n (TERM_CAP slack), so read
     * whole 64-bit words and mask the tail. */
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        v &= first_bytes_mask(n);
        h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    return h;
}

/* Compare two keys of n bytes; both must have 8 readable bytes past n. */
inline bool keys_equal(const char *a, const char *b, size_t n)
{
    while (n >= 8) {
        uint64_t x, y;
        std::memcpy(&x, a, 8);
        std::memcpy(&y, b, 8);
        if (x != y)
            return false;
        a += 8;
        b += 8;
        n -= 8;
    }
    if (!n)
        return true;
    uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    return ((x ^ y) & first_bytes_mask(n)) == 0;
}

class StemCache
{
  public:
    /* Maximum number of distinct words kept; the cache is emptied when full. */
    static const size_t MAX_ENTRIES = 1u << 17;

    /* Look up the stem of word[0..n) (n <= MAX_WORD_LENGTH); on a miss, stem
     * it with stemmer and remember it.  Returns a pointer into the pool,
     * valid until the next call. */
    const char *lookup(const char *word, size_t n, const Xapian::Stem &stemmer, size_t &stem_len)
    {
        if (slots_.empty())
            reset_table(4096);
        uint64_t h = hash_term(word, n);
        size_t mask = slots_.size() - 1;
        size_t i = static_cast<size_t>(h) & mask;
        while (true) {
            Slot &s = slots_[i];
            if (s.key_len == 0)
                break;
            if (s.hash == h && s.key_len == n && keys_equal(pool_.data() + s.key_off, word, n)) {
                stem_len = s.stem_len;
                return pool_.data() + s.stem_off;
            }
            i = (i + 1) & mask;
        }
        /* Miss: stem with Xapian (allocates, but only once per distinct word). */
        std::string stem = stemmer(std::string(word, n));
        if (count_ + 1 > slots_.size() / 2) {
            /* Grow, or, when at the bound, forget everything. */
            if (slots_.size() < 2 * MAX_ENTRIES) {
                rehash(slots_.size() * 2);
            } else {
                reset_table(slots_.size());
                pool_.clear();
            }
            mask = slots_.size() - 1;
            i = static_cast<size_t>(h) & mask;
            while (slots_[i].key_len)
                i = (i + 1) & mask;
        }
        if (pool_.size() > (1u << 30)) { /* keep 32-bit offsets valid */
            reset_table(slots_.size());
            pool_.clear();
            i = static_cast<size_t>(h) & mask;
        }
        /* Keep 8 bytes of slack after the last entry for keys_equal(). */
        pool_.reserve_more(n + stem.size() + 8);
        Slot &s = slots_[i];
        s.hash = h;
        s.key_off = static_cast<uint32_t>(pool_.append(word, n));
        s.stem_off = static_cast<uint32_t>(pool_.append(stem.data(), stem.size()));
        s.stem_len = static_cast<uint32_t>(stem.size());
        s.key_len = static_cast<uint32_t>(n);
        ++count_;
        stem_len = s.stem_len;
        return pool_.data() + s.stem_off;
    }

  private:
    struct Slot {
        uint64_t hash;
        uint32_t key_off;
        uint32_t key_len; /* 0 = empty slot */
        uint32_t stem_off;
        uint32_t stem_len;
    };

    void reset_table(size_t n)
    {
        slots_.assign(n, Slot{0, 0, 0, 0, 0});
        count_ = 0;
    }

    void rehash(size_t n)
    {
        std::vector<Slot> old;
        old.swap(slots_);
        slots_.assign(n, Slot{0, 0, 0, 0, 0});
        size_t mask = n - 1;
        for (const Slot &s : old) {
            if (!s.key_len)
                continue;
            size_t i = static_cast<size_t>(s.hash) & mask;
            while (slots_[i].key_len)
                i = (i + 1) & mask;
            slots_[i] = s;
        }
    }

    std::vector<Slot> slots_;
    ByteBuf pool_;
    size_t count_ = 0;
};

/* One stemming language known to a state. */
struct LangSlot {
    std::string name;      /* as passed by the caller */
    bool valid = false;    /* Xapian::Stem(name) succeeded */
    bool stemming = false; /* valid and not the "none" stemmer */
    Xapian::Stem stemmer;
    StemCache cache;
};

/* One buffered term occurrence (term bytes live in fa_state::arena). */
struct Event {
    uint32_t off;
    uint32_t len;
    unsigned pos;
};

} // namespace

struct fa_state {
    std::vector<std::unique_ptr<LangSlot>> langs;
    LangSlot *last = nullptr;  /* most recently used language */
    ByteBuf arena;             /* terms of the current call */
    std::vector<Event> events; /* occurrences of the current call */
    const AsciiTables *tables = &ascii_tables();
};

namespace
{

inline bool no_stemming(const char *lang)
{
    return lang == nullptr || lang[0] == '\0' || std::strcmp(lang, "none") == 0;
}

/* Find or create the LangSlot for lang (not a "no stemming" name). */
LangSlot *get_lang(fa_state *st, const char *lang)
{
    if (st->last && st->last->name == lang)
        return st->last;
    for (auto &l : st->langs) {
        if (l->name == lang)
            return st->last = l.get();
    }
    std::unique_ptr<LangSlot> slot(new LangSlot);
    slot->name = lang;
    try {
        slot->stemmer = Xapian::Stem(lang);
        slot->valid = true;
        slot->stemming = !slot->stemmer.is_none();
    } catch (const Xapian::Error &) {
        slot->valid = false;
    }
    st->langs.push_back(std::move(slot));
    return st->last = st->langs.back().get();
}

/* The analyzer proper: parses one text into st->arena / st->events. */
class Parser
{
  public:
    Parser(fa_state *st, const char *text, size_t len, const char *prefix, size_t prefix_len,
           LangSlot *lang, unsigned termpos)
        : st_(st), t_(*st->tables), s_(reinterpret_cast<const unsigned char *>(text)), n_(len),
          prefix_(prefix), prefix_len_(prefix_len), lang_(lang), pos_(termpos)
    {
    }

    /* Run the parse; returns false if the text must go to the real TermGenerator. */
    bool run();

    unsigned termpos() const
    {
        return pos_;
    }

  private:
    /* Decode the character at byte offset i (< n_). */
    unsigned decode(size_t i, unsigned &seqlen)
    {
        unsigned ch = s_[i];
        if (ch < 0x80) {
            seqlen = 1;
            return ch;
        }
        ch = decode_nonascii(s_ + i, s_ + n_, seqlen);
        if (is_bail_char(ch))
            bail_ = true;
        return ch;
    }

    /* Append a (lowercased) character to the current term. */
    void append(unsigned ch)
    {
        if (ch < 0x80) {
            if (tlen_ < TERM_CAP)
                term_[tlen_] = static_cast<char>(ch);
            ++tlen_;
            return;
        }
        char buf[4];
        unsigned k = encode_utf8(ch, buf);
        if (tlen_ + k <= TERM_CAP)
            std::memcpy(term_ + tlen_, buf, k);
        tlen_ += k;
    }

    void add_term();

    fa_state *st_;
    const AsciiTables &t_;
    const unsigned char *s_;
    size_t n_;
    const char *prefix_;
    size_t prefix_len_;
    LangSlot *lang_; /* nullptr = no stemming */
    unsigned pos_;   /* running term position */
    bool bail_ = false;
    size_t tlen_ = 0; /* logical term length (may exceed TERM_CAP) */
    char term_[TERM_CAP + 8];
};

/* TermGenerator's per-term action for STEM_SOME without stopper. */
void Parser::add_term()
{
    if (tlen_ > MAX_WORD_LENGTH)
        return; /* dropped, no position used */
    ByteBuf &a = st_->arena;
    /* Event offsets are 32-bit (only reachable with a huge prefix). */
    if (a.size() > 0xf0000000u)
        throw std::bad_alloc();

    /* prefix + term at the next position. */
    a.reserve_more(prefix_len_ + tlen_);
    size_t off = a.append(prefix_, prefix_len_);
    a.append(term_, tlen_);
    st_->events.push_back(
        Event{static_cast<uint32_t>(off), static_cast<uint32_t>(prefix_len_ + tlen_), ++pos_});

    if (!lang_)
        return;
    /* should_stem(): only if the first character is a letter of category
     * Ll, Lt, Lm or Lo (after lowercasing). */
    unsigned c0 = static_cast<unsigned char>(term_[0]);
    if (c0 < 0x80) {
        if (!t_.stem_first[c0])
            return;
    } else {
        unsigned sl;
        c0 = decode_nonascii(reinterpret_cast<const unsigned char *>(term_),
                             reinterpret_cast<const unsigned char *>(term_) + tlen_, sl);
        Xapian::Unicode::category cat = Xapian::Unicode::get_category(c0);
        if (cat != Xapian::Unicode::LOWERCASE_LETTER && cat != Xapian::Unicode::TITLECASE_LETTER &&
            cat != Xapian::Unicode::MODIFIER_LETTER && cat != Xapian::Unicode::OTHER_LETTER)
            return;
    }
    size_t stem_len;
    const char *stem = lang_->cache.lookup(term_, tlen_, lang_->stemmer, stem_len);
    if (stem_len == 0)
        return;
    /* "Z" + prefix + stem, without position. */
    a.reserve_more(1 + prefix_len_ + stem_len);
    off = a.append("Z", 1);
    a.append(prefix_, prefix_len_);
    a.append(stem, stem_len);
    st_->events.push_back(
        Event{static_cast<uint32_t>(off), static_cast<uint32_t>(1 + prefix_len_ + stem_len), 0});
}

bool Parser::run()
{
    const size_t n = n_;
    size_t i = 0;
    unsigned sl = 0;
    while (true) {
        /* Advance to the start of the next word. */
        unsigned ch;
        while (true) {
            if (i == n || bail_)
                return !bail_;
            ch = check_wordchar(t_, decode(i, sl));
            if (ch)
                break;
            i += sl;
        }
        tlen_ = 0;

        /* Acronyms: ASCII capitals separated by single '.' (U.S.A.). */
        if (s_[i] >= 'A' && s_[i] <= 'Z') {
            size_t p = i;
            do {
                append(s_[p] + ('a' - 'A'));
                ++p;
            } while (p != n && s_[p] == '.' && ++p != n && s_[p] >= 'A' && s_[p] <= 'Z');
            /* One letter does not make an acronym; it must not be followed
             * directly by a word character either. */
            if (tlen_ > 1) {
                unsigned psl;
                if (p == n || !is_wordchar(t_, decode(p, psl))) {
                    i = p;
                    add_term();
                    continue;
                }
            }
            tlen_ = 0;
        }

        unsigned raw = 0; /* raw character at i once the word loop stops */
        bool at_end = false;
        while (true) {
            /* Consume a run of word characters. */
            unsigned prevch;
            do {
                append(ch);
                prevch = ch;
                i += sl;
                if (i == n) {
                    at_end = true;
                    break;
                }
                raw = decode(i, sl);
                ch = check_wordchar(t_, raw);
            } while (ch);
            if (at_end)
                break;

            /* raw (at i, sl bytes) is not a word char: is it an infix? */
            size_t next = i + sl;
            if (next == n)
                break;
            unsigned nsl;
            unsigned nraw = decode(next, nsl);
            unsigned nextch = check_wordchar(t_, nraw);
            if (!nextch)
                break;
            unsigned infix;
            if (is_digit(t_, prevch) && is_digit(t_, nraw)) {
                infix = check_infix_digit(raw);
            } else {
                infix = check_infix(raw);
            }
            if (!infix)
                break;
            if (infix != IGNORE_CH)
                append(infix);
            ch = nextch;
            i = next;
            sl = nsl;
        }

        if (!at_end) {
            /* Up to three '+' / '#' suffix characters (C++, C#). */
            size_t keep = tlen_;
            unsigned count = 0;
            while (raw == '+' || raw == '#') {
                if (++count > 3) {
                    tlen_ = keep;
                    break;
                }
                append(raw);
                if (++i == n) {
                    at_end = true;
                    break;
                }
                raw = decode(i, sl);
            }
            /* Don't index fish+chips as fish+ chips. */
            if (!at_end && is_wordchar(t_, raw))
                tlen_ = keep;
        }
        add_term();
    }
}

/* Hand buffered events to the callback. */
int flush_events(fa_state *st, fa_emit_fn emit, void *ctx, unsigned wdf_inc)
{
    try {
        const char *base = st->arena.data();
        for (const Event &e : st->events)
            emit(ctx, base + e.off, e.len, e.pos, wdf_inc);
    } catch (...) {
        return -1;
    }
    return 0;
}

/* Drop oversized scratch buffers after an unusually large text. */
void trim_scratch(fa_state *st)
{
    const size_t LIMIT = 16u << 20;
    st->arena.trim(LIMIT);
    if (st->events.capacity() > LIMIT / sizeof(Event))
        std::vector<Event>().swap(st->events);
}

} // namespace

/* Per-thread analyzer state: one Xapian::Stem and one bounded stem cache per language seen,
 * plus scratch buffers that are reused across calls. Not thread-safe: one state per thread.
 * Returns NULL only on allocation failure; free with fa_state_free (NULL is allowed). */
static fa_state *fa_state_new()
{
    try {
        return new fa_state;
    } catch (...) {
        return nullptr;
    }
}

static void fa_state_free(fa_state *st)
{
    delete st;
}

/* fa_analyze without the callbacks: the occurrences stay in st->events, their bytes in
 * st->arena, until the next call on st. Same return values (never -1). */
static int fa_analyze_keep(fa_state *st, const char *text, size_t len, const char *lang,
                           const char *prefix, unsigned *termpos)
{
    if (!st || !termpos || (!text && len))
        return 1;
    if (!prefix)
        prefix = "";
    /* Offsets into the arena are 32-bit; leave gigantic inputs to Xapian. */
    size_t prefix_len = std::strlen(prefix);
    if (len > (1u << 28) || prefix_len > (1u << 16))
        return 1;
    try {
        LangSlot *slot = nullptr;
        if (!no_stemming(lang)) {
            slot = get_lang(st, lang);
            if (!slot->valid)
                return 1;
            if (!slot->stemming)
                slot = nullptr;
        }
        trim_scratch(st); /* after an unusually large text (fa_analyze trims on its way out) */
        st->arena.clear();
        st->events.clear();
        Parser parser(st, text, len, prefix, prefix_len, slot, *termpos);
        if (!parser.run()) {
            st->events.clear();
            return 1;
        }
        *termpos = parser.termpos();
    } catch (const std::bad_alloc &) {
        /* Out of memory is the caller's error to report, not a text to leave to Xapian. */
        st->events.clear();
        throw;
    } catch (...) {
        st->events.clear();
        return 1;
    }
    return 0;
}

/* Analyzes text (len bytes of UTF-8; each invalid byte is taken as an ISO-8859-1 character, as
 * Xapian does) like TermGenerator::index_text(text, wdf_inc, prefix) with the stemmer of lang (as
 * Xapian::Stem takes it; NULL, "" or "none": no stemming) and prefix (NULL: ""). *termpos is the
 * running term position, advanced. emit is called once per term occurrence in TermGenerator's
 * order: the positional term, then its "Z" stem term if any. Returns 0 on success; 1 if the fast
 * path cannot handle this input (CJK text, unknown language, internal error): nothing was
 * emitted and *termpos is untouched, so fall back to the real TermGenerator; -1 if emit threw
 * (the output is then partial). Never throws. */
static int fa_analyze(fa_state *st, const char *text, size_t len, const char *lang,
                      const char *prefix, unsigned wdf_inc, unsigned *termpos, fa_emit_fn emit,
                      void *ctx)
{
    if (!emit)
        return 1;
    int rc = fa_analyze_keep(st, text, len, lang, prefix, termpos);
    if (rc)
        return rc;
    rc = flush_events(st, emit, ctx, wdf_inc);
    st->events.clear();
    trim_scratch(st);
    return rc;
}

/* ------------------------------------------------------------------ analyzer */

struct souk_analyzer {
    Xapian::TermGenerator tg;
    Xapian::Document doc;
    std::unordered_map<std::string, Xapian::Stem> stems;
    fa_state *fast = nullptr;
    ~souk_analyzer()
    {
        fa_state_free(fast);
    }
    std::string err;
    uint64_t n_fast = 0;
    uint64_t n_fallback = 0;

    /* Returns the stemmer for a canonical stemmer name, built once. */
    const Xapian::Stem &stemmer(const char *name)
    {
        auto it = stems.find(name);
        if (it == stems.end()) {
            Xapian::Stem s = std::strcmp(name, "none") == 0 ? Xapian::Stem() : Xapian::Stem(name);
            it = stems.emplace(name, s).first;
        }
        return it->second;
    }
};

extern "C" unsigned souk_unicode_tolower(unsigned ch)
{
    return Xapian::Unicode::tolower(ch);
}

extern "C" const char *souk_language_stemmer(const char *lang)
{
    if (!lang)
        return "none";
    for (const LangEntry &e : kLanguages) {
        if (strcasecmp(e.code, lang) == 0)
            return e.stemmer;
    }
    return nullptr;
}

extern "C" int souk_analyzer_new(souk_analyzer **out)
{
    try {
        souk_analyzer *a = new souk_analyzer();
        a->tg.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
        a->tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
        a->tg.set_document(a->doc);
        a->fast = fa_state_new();
        if (!a->fast) {
            delete a;
            return SOUK_ENOMEM;
        }
        *out = a;
        return SOUK_OK;
    } catch (const std::bad_alloc &) {
        return SOUK_ENOMEM;
    } catch (...) {
        return SOUK_EXAPIAN;
    }
}

extern "C" void souk_analyzer_free(souk_analyzer *a)
{
    delete a;
}

extern "C" const char *souk_analyzer_errmsg(const souk_analyzer *a)
{
    return a ? a->err.c_str() : "no analyzer";
}

extern "C" void souk_analyzer_counts(const souk_analyzer *a, uint64_t *fast, uint64_t *fallback)
{
    *fast = a->n_fast;
    *fallback = a->n_fallback;
}

extern "C" int souk_analyze_xapian(souk_analyzer *a, const char *text, size_t len, const char *lang,
                                   const char *prefix, uint32_t wdf_inc, uint32_t *termpos,
                                   souk_term_fn fn, void *ctx)
{
    try {
        const char *sname = souk_language_stemmer(lang);
        if (!sname) {
            a->err = std::string("unsupported language '") + lang + "'";
            return SOUK_EINVAL;
        }
        a->doc.clear_terms();
        a->tg.set_stemmer(a->stemmer(sname));
        a->tg.set_termpos(*termpos);
        a->tg.index_text(std::string(text, len), wdf_inc, prefix ? prefix : "");
        for (Xapian::TermIterator t = a->doc.termlist_begin(); t != a->doc.termlist_end(); ++t) {
            const std::string term = *t;
            Xapian::termcount wdf = t.get_wdf();
            Xapian::termcount counted = 0;
            for (Xapian::PositionIterator p = t.positionlist_begin(); p != t.positionlist_end();
                 ++p) {
                fn(ctx, term.data(), term.size(), *p, wdf_inc);
                counted += wdf_inc;
            }
            /* wdf not accounted for by positions belongs to position-less occurrences. */
            while (counted < wdf) {
                fn(ctx, term.data(), term.size(), 0, wdf_inc);
                counted += wdf_inc;
            }
        }
        *termpos = a->tg.get_termpos();
        return SOUK_OK;
    } catch (const Xapian::Error &e) {
        a->err = e.get_description();
        return SOUK_EXAPIAN;
    } catch (const std::bad_alloc &) {
        return SOUK_ENOMEM;
    } catch (...) {
        a->err = "unknown C++ exception in analysis";
        return SOUK_EXAPIAN;
    }
}

extern "C" int souk_analyze(souk_analyzer *a, const char *text, size_t len, const char *lang,
                            const char *prefix, uint32_t wdf_inc, uint32_t *termpos,
                            souk_term_fn fn, void *ctx)
{
    if (wdf_inc == 0) {
        a->err = "wdf increment must be at least 1";
        return SOUK_EINVAL;
    }
    try {
        const char *sname = souk_language_stemmer(lang);
        if (!sname) {
            a->err = std::string("unsupported language '") + lang + "'";
            return SOUK_EINVAL;
        }
        if (fa_analyze(a->fast, text, len, sname, prefix ? prefix : "", wdf_inc, termpos, fn,
                       ctx) == 0) {
            a->n_fast++;
            return SOUK_OK;
        }
    } catch (const std::bad_alloc &) {
        return SOUK_ENOMEM;
    } catch (...) {
        /* The fast path emits nothing before it is sure; fall back below. */
    }
    a->n_fallback++;
    return souk_analyze_xapian(a, text, len, lang, prefix, wdf_inc, termpos, fn, ctx);
}

static_assert(sizeof(souk_term_occ) == sizeof(Event) && offsetof(Event, off) == 0 &&
                  offsetof(Event, len) == 4 && offsetof(Event, pos) == 8,
              "souk_term_occ is the fast analyzer's Event");

/* The fallback's terms, gathered where the fast path leaves its own. */
static void keep_term(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t)
{
    fa_state *st = static_cast<fa_state *>(ctx);
    st->arena.reserve_more(len);
    size_t off = st->arena.append(term, len);
    st->events.push_back(
        Event{static_cast<uint32_t>(off), static_cast<uint32_t>(len), static_cast<unsigned>(pos)});
}

extern "C" int souk_analyze_view(souk_analyzer *a, const char *text, size_t len, const char *lang,
                                 const char *prefix, uint32_t wdf_inc, uint32_t *termpos,
                                 souk_term_view *out)
{
    if (wdf_inc == 0) {
        a->err = "wdf increment must be at least 1";
        return SOUK_EINVAL;
    }
    fa_state *st = a->fast;
    try {
        const char *sname = souk_language_stemmer(lang);
        if (!sname) {
            a->err = std::string("unsupported language '") + lang + "'";
            return SOUK_EINVAL;
        }
        if (fa_analyze_keep(st, text, len, sname, prefix ? prefix : "", termpos) == 0) {
            a->n_fast++;
        } else {
            a->n_fallback++;
            st->arena.clear();
            st->events.clear();
            int rc =
                souk_analyze_xapian(a, text, len, lang, prefix, wdf_inc, termpos, keep_term, st);
            if (rc)
                return rc;
        }
    } catch (const std::bad_alloc &) {
        return SOUK_ENOMEM;
    } catch (...) {
        a->err = "unknown C++ exception in analysis";
        return SOUK_EXAPIAN;
    }
    out->bytes = st->arena.data();
    out->nbytes = st->arena.size();
    out->occ = reinterpret_cast<const souk_term_occ *>(st->events.data());
    out->n = st->events.size();
    return SOUK_OK;
}
