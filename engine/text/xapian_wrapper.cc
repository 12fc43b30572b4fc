/* xapian_wrapper.cc: Souk's only C++ file. It implements the extern "C" interface of
 * engine/include/souk/xapian.h over Xapian 1.4: text analysis (a fast tokenizer that reproduces
 * TermGenerator, with TermGenerator itself as fallback and reference), query parsing into a flat
 * tree, and a Xapian database used as test oracle and benchmark reference.
 *
 * Every extern "C" function catches every exception and maps it to a SOUK_E* code. */
#include "souk/souk.h"
#include "souk/xapian.h"

#include <xapian.h>

#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace
{

/* Copies a message into a caller buffer, always NUL-terminated. */
void set_err(char *err, size_t errlen, const std::string &msg)
{
    if (err && errlen) {
        std::snprintf(err, errlen, "%s", msg.c_str());
    }
}

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

/* ================================================================== fast analysis
 * A re-implementation of TermGenerator::index_text for non-CJK text, proven equal to it by
 * tests/test_analysis.c. */
/* fastanalyze.h - fast re-implementation of Xapian::TermGenerator::index_text().
 *
 * The fast path (fa_analyze) produces exactly the terms, positions and wdf that
 * Xapian 1.4.22's TermGenerator produces with:
 *   - set_stemmer(Xapian::Stem(lang)) ("none" or "" = no stemmer),
 *   - stemming strategy STEM_SOME, no stopper, flags 0,
 *   - default max_word_length (64 bytes).
 * When the text contains something the fast path does not handle (CJK text), it
 * returns 1 without emitting anything, and the caller should use
 * fa_analyze_xapian() (the real TermGenerator) instead.
 *
 * This is a C++ header (it includes <xapian.h>); the functions only use C types,
 * so the C++ wrapper file can re-export them to C unchanged.
 *
 * Build: g++ -O2 -c fastanalyze.cc   (link with -lxapian)
 */

#include <stddef.h>

/** Emit callback: one call per term occurrence.
 *
 *  @param ctx      caller's context pointer, passed through unchanged.
 *  @param term     the full term (prefix included), NOT NUL-terminated.
 *  @param len      length of @a term in bytes.
 *  @param pos      term position, or 0 for a term without position (add_term,
 *                  used for the "Z" + prefix + stem terms).
 *  @param wdf_inc  wdf increment for this occurrence.
 *
 *  The callback must not throw.
 */
typedef void (*fa_emit_fn)(void *ctx, const char *term, size_t len, unsigned pos, unsigned wdf_inc);

/** Per-thread analyzer state: one Xapian::Stem and one bounded stem cache per
 *  language seen, plus scratch buffers that are reused across calls.
 *  Not thread-safe: use one state per thread.
 */
struct fa_state;

/** Create a state; returns NULL only on allocation failure. */
fa_state *fa_state_new();

/** Free a state (NULL is allowed). */
void fa_state_free(fa_state *st);

/** Analyze @a text like TermGenerator::index_text(text, wdf_inc, prefix).
 *
 *  @param st       state from fa_state_new().
 *  @param text     UTF-8 text (invalid UTF-8 is handled like Xapian does: each
 *                  invalid byte is taken as an ISO-8859-1 character).
 *  @param len      length of @a text in bytes.
 *  @param lang     stemmer language as accepted by Xapian::Stem ("en", "german",
 *                  ...); NULL, "" or "none" means no stemming.
 *  @param prefix   term prefix (NULL means "").
 *  @param wdf_inc  wdf increment per occurrence.
 *  @param termpos  in/out running term position (TermGenerator's termpos).
 *  @param emit     callback, called once per term occurrence in TermGenerator's
 *                  order: the positional term, then its "Z" stem term if any.
 *  @param ctx      passed to @a emit.
 *
 *  @return 0 on success; 1 if the fast path can't handle this input (CJK text,
 *          unknown language, internal error): nothing was emitted and *termpos
 *          is untouched, so fall back to fa_analyze_xapian(); -1 if the emit
 *          callback threw (output is then partial).  Never throws.
 */
int fa_analyze(fa_state *st, const char *text, size_t len, const char *lang, const char *prefix,
               unsigned wdf_inc, unsigned *termpos, fa_emit_fn emit, void *ctx);

/** Same contract as fa_analyze(), but done by the real Xapian::TermGenerator on a
 *  scratch Xapian::Document whose termlist/positionlists are then walked and
 *  emitted.  The multiset of (term, pos, wdf_inc) emitted equals fa_analyze()'s
 *  (the order differs: terms come out sorted).  If wdf_inc is 0 the number of
 *  occurrences of an unpositioned term can't be recovered, so each such term is
 *  emitted once.
 *
 *  @return 0 on success, 1 if Xapian threw (e.g. unknown stemmer language), in
 *          which case nothing was emitted and *termpos is untouched; -1 if the
 *          emit callback threw.  Never throws.
 */
int fa_analyze_xapian(fa_state *st, const char *text, size_t len, const char *lang,
                      const char *prefix, unsigned wdf_inc, unsigned *termpos, fa_emit_fn emit,
                      void *ctx);

/* fastanalyze.cc - fast re-implementation of Xapian::TermGenerator::index_text().
 *
 * See fastanalyze.h for the contract.  This file re-implements, for Xapian
 * 1.4.22, TermGenerator's word splitting (parse_terms() in
 * queryparser/termgenerator_internal.cc) and its STEM_SOME term action, with
 * an ASCII fast path, a per-language stem cache and no per-word heap
 * allocation.  Character classification for non-ASCII characters goes through
 * the public Xapian::Unicode functions, so the Unicode tables are the ones of
 * the installed libxapian; the ASCII tables are built from those same
 * functions at start-up.
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

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace fa_detail
{

// ---------------------------------------------------------------------------
// Small growable byte buffer (no zero-initialisation, never shrinks by itself).

class ByteBuf
{
  public:
    ByteBuf() = default;
    ByteBuf(const ByteBuf &) = delete;
    ByteBuf &operator=(const ByteBuf &) = delete;
    ~ByteBuf()
    {
        std::free(data_);
    }

    char *data()
    {
        return data_;
    }
    size_t size() const
    {
        return size_;
    }
    void clear()
    {
        size_ = 0;
    }

    /// Make room for @a n more bytes; throws std::bad_alloc on failure.
    void reserve_more(size_t n)
    {
        if (cap_ - size_ >= n)
            return;
        size_t cap = cap_ ? cap_ * 2 : 4096;
        while (cap - size_ < n)
            cap *= 2;
        char *p = static_cast<char *>(std::realloc(data_, cap));
        if (!p)
            throw std::bad_alloc();
        data_ = p;
        cap_ = cap;
    }

    /// Append bytes; returns the offset they were stored at.
    size_t append(const char *p, size_t n)
    {
        reserve_more(n);
        size_t off = size_;
        std::memcpy(data_ + size_, p, n);
        size_ += n;
        return off;
    }

    /// Release the memory if the buffer has grown beyond @a limit bytes.
    void trim(size_t limit)
    {
        if (cap_ > limit) {
            std::free(data_);
            data_ = nullptr;
            cap_ = size_ = 0;
        }
    }

  private:
    char *data_ = nullptr;
    size_t size_ = 0;
    size_t cap_ = 0;
};

// ---------------------------------------------------------------------------
// Character classification.

/// Xapian's TermGenerator default max_word_length (bytes).
const size_t MAX_WORD_LENGTH = 64;

/// Term buffer capacity: words longer than this are only counted, not stored
/// (they are longer than MAX_WORD_LENGTH anyway).  Extra 8 bytes of slack let
/// the hash function read a whole 64-bit word.
const size_t TERM_CAP = 128;

/// Returned by check_infix*() for characters that are skipped inside a word.
const unsigned IGNORE_CH = 0xffffffffu;

/// ASCII lookup tables, derived from Xapian::Unicode so they agree with it.
struct AsciiTables {
    unsigned char word_lower[128]; ///< tolower(ch) if is_wordchar(ch), else 0
    bool digit[128];               ///< category Nd
    bool stem_first[128];          ///< should_stem() category (Ll Lt Lm Lo)

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

/// TermGenerator's check_wordchar(): lowercased char if a word char, else 0.
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

/// Zero-width characters that are silently dropped between word characters.
inline bool is_zero_width(unsigned ch)
{
    return ch >= 0x200b && (ch <= 0x200d || ch == 0x2060 || ch == 0xfeff);
}

/// Infix characters allowed between two word chars (not digit-digit).
inline unsigned check_infix(unsigned ch)
{
    if (ch == '\'' || ch == '&' || ch == 0xb7 || ch == 0x5f4 || ch == 0x2027)
        return ch;
    // Right single quotation mark / single high-reversed-9 quotation mark
    // are stored as an ASCII apostrophe.
    if (ch == 0x2019 || ch == 0x201b)
        return '\'';
    if (is_zero_width(ch))
        return IGNORE_CH;
    return 0;
}

/// Infix characters allowed between two decimal digits (1,000.5).
inline unsigned check_infix_digit(unsigned ch)
{
    switch (ch) {
    case ',':
    case '.':
    case ';':
    case 0x037e: // Greek question mark
    case 0x0589: // Armenian full stop
    case 0x060d: // Arabic date separator
    case 0x07f8: // NKo comma
    case 0x2044: // fraction slash
    case 0xfe10: // presentation form for vertical comma
    case 0xfe13: // presentation form for vertical colon
    case 0xfe14: // presentation form for vertical semicolon
        return ch;
    }
    if (is_zero_width(ch))
        return IGNORE_CH;
    return 0;
}

/// Characters whose presence makes us hand the text to the real TermGenerator:
/// a superset of Xapian's CJK::codepoint_is_cjk() plus other Han, kana and
/// Hangul blocks.
inline bool is_bail_char(unsigned ch)
{
    if (ch < 0x1100)
        return false;
    return (ch <= 0x11ff) ||                   // Hangul Jamo
           (ch >= 0x2e80 && ch <= 0x2fff) ||   // CJK radicals, Kangxi, IDC
           (ch >= 0x3000 && ch <= 0x9fff) ||   // CJK symbols, kana, ..., Han
           (ch >= 0xa700 && ch <= 0xa71f) ||   // (in Xapian's CJK list)
           (ch >= 0xa960 && ch <= 0xa97f) ||   // Hangul Jamo Extended-A
           (ch >= 0xac00 && ch <= 0xd7ff) ||   // Hangul syllables, Jamo Ext-B
           (ch >= 0xf900 && ch <= 0xfaff) ||   // CJK compatibility ideographs
           (ch >= 0xfe30 && ch <= 0xfe4f) ||   // CJK compatibility forms
           (ch >= 0xff00 && ch <= 0xffef) ||   // half/fullwidth forms
           (ch >= 0x1aff0 && ch <= 0x1b2ff) || // kana supplements, Nushu
           (ch >= 0x1f200 && ch <= 0x1f2ff) || // enclosed ideographic supp.
           (ch >= 0x20000 && ch <= 0x3ffff);   // Han supplementary planes
}

inline bool is_cont(unsigned char b)
{
    return (b & 0xc0) == 0x80;
}

/// Decode a non-ASCII character at p (p < end) exactly like Utf8Iterator.
unsigned decode_nonascii(const unsigned char *p, const unsigned char *end, unsigned &seqlen)
{
    unsigned ch = p[0];
    size_t left = static_cast<size_t>(end - p);
    seqlen = 1;
    if (ch < 0xc2)
        return ch; // stray continuation byte or overlong C0/C1 lead
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

/// Encode ch (< 0x200000, as Xapian::Unicode::to_utf8 does) into buf.
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

// ---------------------------------------------------------------------------
// Stem cache: open addressing table word -> stem, storage in one byte pool.

/// Mask keeping the first n (1..7) bytes of a 64-bit word loaded with memcpy.
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
    // p has at least 8 readable bytes past p + n (TERM_CAP slack), so read
    // whole 64-bit words and mask the tail.
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

/// Compare two keys of n bytes; both must have 8 readable bytes past n.
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
    /// Maximum number of distinct words kept; the cache is emptied when full.
    static const size_t MAX_ENTRIES = 1u << 17;

    /// Look up the stem of word[0..n) (n <= MAX_WORD_LENGTH); on a miss, stem
    /// it with @a stemmer and remember it.  Returns a pointer into the pool,
    /// valid until the next call.
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
        // Miss: stem with Xapian (allocates, but only once per distinct word).
        std::string stem = stemmer(std::string(word, n));
        if (count_ + 1 > slots_.size() / 2) {
            // Grow, or, when at the bound, forget everything.
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
        if (pool_.size() > (1u << 30)) { // keep 32-bit offsets valid
            reset_table(slots_.size());
            pool_.clear();
            i = static_cast<size_t>(h) & mask;
        }
        // Keep 8 bytes of slack after the last entry for keys_equal().
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
        uint32_t key_len; ///< 0 = empty slot
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

/// One stemming language known to a state.
struct LangSlot {
    std::string name;      ///< as passed by the caller
    bool valid = false;    ///< Xapian::Stem(name) succeeded
    bool stemming = false; ///< valid and not the "none" stemmer
    Xapian::Stem stemmer;
    StemCache cache;
};

/// One buffered term occurrence (term bytes live in fa_state::arena).
struct Event {
    uint32_t off;
    uint32_t len;
    unsigned pos;
};

} // namespace fa_detail

using namespace fa_detail;

struct fa_state {
    std::vector<std::unique_ptr<LangSlot>> langs;
    LangSlot *last = nullptr;  ///< most recently used language
    ByteBuf arena;             ///< terms of the current call
    std::vector<Event> events; ///< occurrences of the current call
    const AsciiTables *tables = &ascii_tables();
};

namespace fa_detail
{

inline bool no_stemming(const char *lang)
{
    return lang == nullptr || lang[0] == '\0' || std::strcmp(lang, "none") == 0;
}

/// Find or create the LangSlot for lang (not a "no stemming" name).
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

/// The analyzer proper: parses one text into st->arena / st->events.
class Parser
{
  public:
    Parser(fa_state *st, const char *text, size_t len, const char *prefix, size_t prefix_len,
           LangSlot *lang, unsigned termpos)
        : st_(st), t_(*st->tables), s_(reinterpret_cast<const unsigned char *>(text)), n_(len),
          prefix_(prefix), prefix_len_(prefix_len), lang_(lang), pos_(termpos)
    {
    }

    /// Run the parse; returns false if the text must go to the real TermGenerator.
    bool run();

    unsigned termpos() const
    {
        return pos_;
    }

  private:
    /// Decode the character at byte offset i (< n_).
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

    /// Append a (lowercased) character to the current term.
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
    LangSlot *lang_; ///< nullptr = no stemming
    unsigned pos_;   ///< running term position
    bool bail_ = false;
    size_t tlen_ = 0; ///< logical term length (may exceed TERM_CAP)
    char term_[TERM_CAP + 8];
};

/// TermGenerator's per-term action for STEM_SOME without stopper.
void Parser::add_term()
{
    if (tlen_ > MAX_WORD_LENGTH)
        return; // dropped, no position used
    ByteBuf &a = st_->arena;
    // Event offsets are 32-bit (only reachable with a huge prefix).
    if (a.size() > 0xf0000000u)
        throw std::bad_alloc();

    // prefix + term at the next position.
    a.reserve_more(prefix_len_ + tlen_);
    size_t off = a.append(prefix_, prefix_len_);
    a.append(term_, tlen_);
    st_->events.push_back(
        Event{static_cast<uint32_t>(off), static_cast<uint32_t>(prefix_len_ + tlen_), ++pos_});

    if (!lang_)
        return;
    // should_stem(): only if the first character is a letter of category
    // Ll, Lt, Lm or Lo (after lowercasing).
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
    // "Z" + prefix + stem, without position.
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
        // Advance to the start of the next word.
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

        // Acronyms: ASCII capitals separated by single '.' (U.S.A.).
        if (s_[i] >= 'A' && s_[i] <= 'Z') {
            size_t p = i;
            do {
                append(s_[p] + ('a' - 'A'));
                ++p;
            } while (p != n && s_[p] == '.' && ++p != n && s_[p] >= 'A' && s_[p] <= 'Z');
            // One letter does not make an acronym; it must not be followed
            // directly by a word character either.
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

        unsigned raw = 0; // raw character at i once the word loop stops
        bool at_end = false;
        while (true) {
            // Consume a run of word characters.
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

            // raw (at i, sl bytes) is not a word char: is it an infix?
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
            // Up to three '+' / '#' suffix characters (C++, C#).
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
            // Don't index fish+chips as fish+ chips.
            if (!at_end && is_wordchar(t_, raw))
                tlen_ = keep;
        }
        add_term();
    }
}

/// Hand buffered events to the callback.
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

/// Drop oversized scratch buffers after an unusually large text.
void trim_scratch(fa_state *st)
{
    const size_t LIMIT = 16u << 20;
    st->arena.trim(LIMIT);
    if (st->events.capacity() > LIMIT / sizeof(Event))
        std::vector<Event>().swap(st->events);
}

} // namespace fa_detail

fa_state *fa_state_new()
{
    try {
        return new fa_state;
    } catch (...) {
        return nullptr;
    }
}

void fa_state_free(fa_state *st)
{
    delete st;
}

/* fa_analyze without the callbacks: the occurrences stay in st->events, their bytes in
 * st->arena, until the next call on st. Same return values (never -1). */
int fa_analyze_keep(fa_state *st, const char *text, size_t len, const char *lang,
                    const char *prefix, unsigned *termpos)
{
    if (!st || !termpos || (!text && len))
        return 1;
    if (!prefix)
        prefix = "";
    // Offsets into the arena are 32-bit; leave gigantic inputs to Xapian.
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
        trim_scratch(st); // after an unusually large text (fa_analyze trims on its way out)
        st->arena.clear();
        st->events.clear();
        Parser parser(st, text, len, prefix, prefix_len, slot, *termpos);
        if (!parser.run()) {
            st->events.clear();
            return 1;
        }
        *termpos = parser.termpos();
    } catch (...) {
        st->events.clear();
        return 1;
    }
    return 0;
}

int fa_analyze(fa_state *st, const char *text, size_t len, const char *lang, const char *prefix,
               unsigned wdf_inc, unsigned *termpos, fa_emit_fn emit, void *ctx)
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

int fa_analyze_xapian(fa_state *st, const char *text, size_t len, const char *lang,
                      const char *prefix, unsigned wdf_inc, unsigned *termpos, fa_emit_fn emit,
                      void *ctx)
{
    if (!st || !termpos || !emit || (!text && len))
        return 1;
    if (!prefix)
        prefix = "";
    Xapian::Document doc;
    unsigned newpos;
    try {
        Xapian::TermGenerator tg;
        if (!no_stemming(lang)) {
            LangSlot *slot = get_lang(st, lang);
            if (!slot->valid)
                return 1;
            tg.set_stemmer(slot->stemmer);
        }
        tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
        tg.set_document(doc);
        tg.set_termpos(*termpos);
        tg.index_text(std::string(text, len), wdf_inc, prefix);
        newpos = tg.get_termpos();
    } catch (...) {
        return 1;
    }
    try {
        for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t) {
            const std::string &term = *t;
            Xapian::termcount wdf = t.get_wdf();
            Xapian::termcount npos = 0;
            for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p) {
                emit(ctx, term.data(), term.size(), *p, wdf_inc);
                ++npos;
            }
            // The rest of the wdf came from add_term() calls of wdf_inc each.
            Xapian::termcount rest = wdf - npos * wdf_inc;
            if (wdf_inc) {
                for (Xapian::termcount k = 0; k < rest / wdf_inc; ++k)
                    emit(ctx, term.data(), term.size(), 0, wdf_inc);
            } else if (npos == 0) {
                emit(ctx, term.data(), term.size(), 0, 0);
            }
        }
    } catch (...) {
        return -1;
    }
    *termpos = newpos;
    return 0;
}

/* ================================================================== end fast analysis */

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

/* ------------------------------------------------------------------ query parsing */

namespace
{

struct TreeBuilder {
    std::vector<souk_qnode> nodes;
    std::vector<std::vector<uint32_t>> kids;

    uint32_t add(const Xapian::Query &q, unsigned depth);
};

/* The deepest query tree Souk evaluates (brackets, and chains like "a NOT b NOT c ..."). The
 * tree builder and the matcher recurse once per level, on worker threads with small stacks. */
const unsigned kMaxQueryDepth = 64;
const unsigned kMaxQueryOperators = 256;

/* Rejects queries nested or chained beyond the limits before Xapian builds a deep tree. Returns
 * an empty string when the query is acceptable, else the reason. */
std::string check_query_shape(const char *text, size_t len)
{
    unsigned depth = 0, max_depth = 0, ops = 0;
    bool quoted = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '"')
            quoted = !quoted;
        if (quoted)
            continue;
        if (c == '(' && ++depth > max_depth)
            max_depth = depth;
        else if (c == ')' && depth > 0)
            depth--;
        if (i == 0 || text[i - 1] == ' ' || text[i - 1] == '(') {
            static const char *const words[] = {"AND", "OR", "NOT", "XOR", "NEAR", "ADJ"};
            for (const char *w : words) {
                size_t n = std::strlen(w);
                if (i + n <= len && std::memcmp(text + i, w, n) == 0 &&
                    (i + n == len || text[i + n] == ' ' || text[i + n] == '/' ||
                     text[i + n] == '('))
                    ops++;
            }
        }
    }
    if (max_depth > kMaxQueryDepth)
        return "query nests brackets more than " + std::to_string(kMaxQueryDepth) + " deep";
    if (ops > kMaxQueryOperators)
        return "query has more than " + std::to_string(kMaxQueryOperators) + " boolean operators";
    return std::string();
}

souk_qop map_op(Xapian::Query::op op)
{
    switch (op) {
    case Xapian::Query::LEAF_TERM:
        return SOUK_QOP_TERM;
    case Xapian::Query::OP_AND:
        return SOUK_QOP_AND;
    case Xapian::Query::OP_OR:
        return SOUK_QOP_OR;
    case Xapian::Query::OP_AND_NOT:
        return SOUK_QOP_AND_NOT;
    case Xapian::Query::OP_AND_MAYBE:
        return SOUK_QOP_AND_MAYBE;
    case Xapian::Query::OP_FILTER:
        return SOUK_QOP_FILTER;
    case Xapian::Query::OP_PHRASE:
        return SOUK_QOP_PHRASE;
    case Xapian::Query::OP_NEAR:
        return SOUK_QOP_NEAR;
    case Xapian::Query::OP_WILDCARD:
        return SOUK_QOP_WILDCARD;
    case Xapian::Query::OP_SYNONYM:
        return SOUK_QOP_SYNONYM;
    case Xapian::Query::OP_SCALE_WEIGHT:
        return SOUK_QOP_SCALE_WEIGHT;
    case Xapian::Query::LEAF_MATCH_ALL:
        return SOUK_QOP_MATCH_ALL;
    case Xapian::Query::LEAF_MATCH_NOTHING:
        return SOUK_QOP_MATCH_NOTHING;
    case Xapian::Query::OP_XOR:
        return SOUK_QOP_XOR;
    case Xapian::Query::OP_ELITE_SET:
        return SOUK_QOP_ELITE_SET;
    case Xapian::Query::OP_MAX:
        return SOUK_QOP_MAX;
    default:
        return SOUK_QOP_VALUE_RANGE;
    }
}

/* Xapian 1.4 has no public accessors for a leaf's wqf and position, a wildcard's pattern or a
 * scale factor, but its description of one node is stable: "Query(term#wqf@pos)",
 * "Query(WILDCARD SYNONYM pattern)", "Query(0.5 * ...)". Parse just that much. */
std::string inner_description(const Xapian::Query &q)
{
    std::string d = q.get_description();
    if (d.size() >= 7 && d.compare(0, 6, "Query(") == 0 && d.back() == ')')
        return d.substr(6, d.size() - 7);
    return d;
}

uint32_t TreeBuilder::add(const Xapian::Query &q, unsigned depth)
{
    if (depth > kMaxQueryDepth * 2)
        throw Xapian::QueryParserError("query nested too deeply");
    souk_qnode n;
    std::memset(&n, 0, sizeof n);
    n.op = map_op(q.get_type());
    n.wqf = 1;
    n.scale = 1.0;
    uint32_t idx = static_cast<uint32_t>(nodes.size());
    nodes.push_back(n);
    kids.emplace_back();
    std::string term;
    if (n.op == SOUK_QOP_TERM) {
        term = *q.get_terms_begin();
        std::string d = inner_description(q);
        /* Trailing "@pos" and optional "#wqf" follow the term itself. */
        if (d.size() > term.size() && d.compare(0, term.size(), term) == 0) {
            const char *p = d.c_str() + term.size();
            unsigned wqf = 1, pos = 0;
            if (*p == '#') {
                wqf = 0;
                for (p++; *p >= '0' && *p <= '9'; p++)
                    wqf = wqf * 10 + static_cast<unsigned>(*p - '0');
            }
            if (*p == '@') {
                for (p++; *p >= '0' && *p <= '9'; p++)
                    pos = pos * 10 + static_cast<unsigned>(*p - '0');
                if (*p == '\0' && wqf > 0) {
                    nodes[idx].wqf = wqf;
                    nodes[idx].pos = pos;
                }
            }
        }
    } else if (n.op == SOUK_QOP_WILDCARD) {
        std::string d = inner_description(q);
        size_t sp = d.find(' ', std::strlen("WILDCARD "));
        term = sp == std::string::npos ? std::string() : d.substr(sp + 1);
    } else if (n.op == SOUK_QOP_SCALE_WEIGHT) {
        std::string d = inner_description(q);
        nodes[idx].scale = std::strtod(d.c_str(), nullptr);
    }
    if (n.op == SOUK_QOP_TERM || n.op == SOUK_QOP_WILDCARD) {
        char *t = static_cast<char *>(souk_malloc(term.size() + 1));
        if (!t)
            throw std::bad_alloc();
        std::memcpy(t, term.data(), term.size());
        t[term.size()] = '\0';
        nodes[idx].term = t;
        nodes[idx].term_len = term.size();
    }
    size_t nsub = q.get_num_subqueries();
    if (n.op == SOUK_QOP_PHRASE || n.op == SOUK_QOP_NEAR) {
        /* "(a@1 NEAR 4 b@2)": the window follows the operator's name. */
        nodes[idx].window = static_cast<uint32_t>(nsub);
        std::string d = q.get_description();
        const char *name = n.op == SOUK_QOP_PHRASE ? " PHRASE " : " NEAR ";
        size_t at = d.find(name);
        unsigned w;
        if (at != std::string::npos &&
            std::sscanf(d.c_str() + at + std::strlen(name), "%u", &w) == 1 && w > 0)
            nodes[idx].window = w;
    }
    for (size_t i = 0; i < nsub; i++) {
        uint32_t k = add(q.get_subquery(i), depth + 1);
        kids[idx].push_back(k);
    }
    return idx;
}

} // namespace

extern "C" void souk_query_free(souk_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nnodes; i++)
        souk_free(q->nodes[i].term);
    souk_free(q->nodes);
    souk_free(q->kids);
    souk_free(q->description);
    souk_free(q->text);
    souk_free(q->lang);
    souk_free(q);
}

namespace
{

/* Configures qp the way every Souk query is parsed. */
void configure_parser(Xapian::QueryParser &qp, const char *sname, const souk_qp_field *fields,
                      size_t nfields, unsigned flags)
{
    if (std::strcmp(sname, "none") != 0)
        qp.set_stemmer(Xapian::Stem(sname));
    qp.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    qp.set_default_op((flags & SOUK_QP_DEFAULT_AND) ? Xapian::Query::OP_AND : Xapian::Query::OP_OR);
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].boolean)
            qp.add_boolean_prefix(fields[i].name, fields[i].prefix);
        else
            qp.add_prefix(fields[i].name, fields[i].prefix);
    }
}

/* The parser of this thread, kept while the configuration stays the same: building one (its
 * stemmer above all) costs more than parsing a short query. */
struct ParserCache {
    std::string key;
    Xapian::QueryParser qp;
    std::string stem_name; /* the fast path's stemmer */
    Xapian::Stem stem;
    /* The fast path's stems, word -> stem (Snowball costs about 0.3 us a word); cleared when
     * the language changes or the cache fills. */
    std::unordered_map<std::string, std::string> stems;
};
thread_local ParserCache parser_cache;

/* Parses text the way every Souk query is parsed (the oracle uses the same function). */
Xapian::Query parse_with_xapian(const char *text, size_t len, const char *sname,
                                const souk_qp_field *fields, size_t nfields, unsigned flags,
                                Xapian::Database *db, ParserCache *cache)
{
    ParserCache &pc = cache ? *cache : parser_cache;
    std::string key(sname);
    key += '\x01';
    key += std::to_string(flags & SOUK_QP_DEFAULT_AND);
    for (size_t i = 0; i < nfields; i++) {
        key += '\x01';
        key += fields[i].name;
        key += '\x02';
        key += fields[i].prefix;
        key += fields[i].boolean ? 'b' : 't';
    }
    if (pc.key != key) {
        pc.qp = Xapian::QueryParser();
        configure_parser(pc.qp, sname, fields, nfields, flags);
        if (db)
            pc.qp.set_database(*db);
        pc.key = key;
    }
    Xapian::QueryParser &qp = pc.qp;
    unsigned qflags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_BOOLEAN |
                      Xapian::QueryParser::FLAG_LOVEHATE | Xapian::QueryParser::FLAG_WILDCARD |
                      Xapian::QueryParser::FLAG_PURE_NOT | Xapian::QueryParser::FLAG_CJK_NGRAM;
    if (flags & SOUK_QP_PARTIAL)
        qflags |= Xapian::QueryParser::FLAG_PARTIAL;
    Xapian::Query q = qp.parse_query(std::string(text, len), qflags);
    if (q.empty())
        q = Xapian::Query(Xapian::Query::MatchNothing);
    return q;
}

} // namespace

/* The fast path for the commonest query, plain words: ASCII letters and digits separated by
 * spaces, none of them an operator. It builds exactly the tree Xapian's QueryParser builds for
 * it (tests/test_query.c compares the two on real query logs): each word lower-cased, stemmed
 * with a "Z" prefix unless it starts with a capital or a digit (STEM_SOME), at positions 1..n,
 * under OR (or AND). Returns false when the query is not plain. */
static bool parse_plain(const char *text, size_t len, const char *sname, unsigned flags,
                        TreeBuilder &tb, std::string &desc)
{
    if ((flags & (SOUK_QP_PARTIAL | SOUK_QP_NO_FAST_PATH)) || std::strcmp(sname, "none") == 0)
        return false;
    std::vector<std::pair<size_t, size_t>> words;
    for (size_t i = 0; i < len;) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && text[j] != ' ') {
            unsigned char d = static_cast<unsigned char>(text[j]);
            if (!((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9')))
                return false;
            j++;
        }
        std::string w(text + i, j - i);
        if (w.size() > 64 || w == "AND" || w == "OR" || w == "NOT" || w == "XOR" || w == "NEAR" ||
            w == "ADJ")
            return false;
        words.emplace_back(i, j - i);
        i = j;
    }
    if (words.empty() || words.size() > 256)
        return false;
    if (parser_cache.stem_name != sname) {
        parser_cache.stem = Xapian::Stem(sname);
        parser_cache.stem_name = sname;
        parser_cache.stems.clear();
    }
    if (parser_cache.stems.size() > 65536)
        parser_cache.stems.clear();
    const char *op = (flags & SOUK_QP_DEFAULT_AND) ? " AND " : " OR ";
    souk_qnode parent;
    std::memset(&parent, 0, sizeof parent);
    parent.op = (flags & SOUK_QP_DEFAULT_AND) ? SOUK_QOP_AND : SOUK_QOP_OR;
    parent.wqf = 1;
    parent.scale = 1.0;
    if (words.size() > 1) {
        tb.nodes.push_back(parent);
        tb.kids.emplace_back();
    }
    desc = words.size() > 1 ? "Query((" : "Query(";
    for (size_t k = 0; k < words.size(); k++) {
        std::string w(text + words[k].first, words[k].second);
        bool capital = w[0] >= 'A' && w[0] <= 'Z', digit = w[0] >= '0' && w[0] <= '9';
        for (char &ch : w)
            if (ch >= 'A' && ch <= 'Z')
                ch = static_cast<char>(ch - 'A' + 'a');
        std::string term;
        if (capital || digit) {
            term = w;
        } else {
            auto it = parser_cache.stems.find(w);
            if (it == parser_cache.stems.end())
                it = parser_cache.stems.emplace(w, parser_cache.stem(w)).first;
            term = "Z" + it->second;
        }
        souk_qnode n;
        std::memset(&n, 0, sizeof n);
        n.op = SOUK_QOP_TERM;
        n.wqf = 1;
        n.pos = static_cast<uint32_t>(k + 1);
        n.scale = 1.0;
        n.term = static_cast<char *>(souk_malloc(term.size() + 1));
        if (!n.term)
            throw std::bad_alloc();
        std::memcpy(n.term, term.c_str(), term.size() + 1);
        n.term_len = term.size();
        if (words.size() > 1)
            tb.kids[0].push_back(static_cast<uint32_t>(tb.nodes.size()));
        tb.nodes.push_back(n);
        tb.kids.emplace_back();
        if (k)
            desc += op;
        desc += term + "@" + std::to_string(k + 1);
    }
    desc += words.size() > 1 ? "))" : ")";
    return true;
}

extern "C" int souk_query_parse(const char *text, size_t len, const char *lang,
                                const souk_qp_field *fields, size_t nfields, unsigned flags,
                                souk_query **out, char *err, size_t errlen)
{
    souk_query *res = nullptr;
    TreeBuilder tb;
    try {
        const char *sname = souk_language_stemmer(lang);
        if (!sname) {
            set_err(err, errlen, std::string("unsupported language '") + lang + "'");
            return SOUK_EINVAL;
        }
        std::string shape = check_query_shape(text, len);
        if (!shape.empty()) {
            set_err(err, errlen, "query syntax: " + shape);
            return SOUK_EQUERY;
        }
        std::string desc;
        uint32_t root = 0;
        bool fast = parse_plain(text, len, sname, flags, tb, desc);
        if (!fast) {
            Xapian::Query q =
                parse_with_xapian(text, len, sname, fields, nfields, flags, nullptr, nullptr);
            root = tb.add(q, 0);
            desc = q.get_description();
        }
        res = static_cast<souk_query *>(souk_calloc(1, sizeof *res));
        if (!res)
            throw std::bad_alloc();
        res->root = root;
        res->fast_path = fast ? 1 : 0;
        res->nodes = static_cast<souk_qnode *>(souk_calloc(tb.nodes.size(), sizeof(souk_qnode)));
        if (!res->nodes)
            throw std::bad_alloc();
        res->nnodes = tb.nodes.size();
        size_t nk = 0;
        for (auto &k : tb.kids)
            nk += k.size();
        res->kids = static_cast<uint32_t *>(souk_calloc(nk ? nk : 1, sizeof(uint32_t)));
        res->description = static_cast<char *>(souk_malloc(desc.size() + 1));
        res->text = static_cast<char *>(souk_malloc(len + 1));
        res->lang = static_cast<char *>(souk_malloc(std::strlen(lang) + 1));
        if (!res->nodes || !res->kids || !res->description || !res->text || !res->lang)
            throw std::bad_alloc();
        if (len)
            std::memcpy(res->text, text, len);
        res->text[len] = 0;
        res->text_len = len;
        std::memcpy(res->lang, lang, std::strlen(lang) + 1);
        std::memcpy(res->description, desc.c_str(), desc.size() + 1);
        size_t at = 0;
        for (size_t i = 0; i < tb.nodes.size(); i++) {
            res->nodes[i] = tb.nodes[i];
            tb.nodes[i].term = nullptr; /* ownership moved */
            res->nodes[i].first_kid = static_cast<uint32_t>(at);
            res->nodes[i].nkids = static_cast<uint32_t>(tb.kids[i].size());
            for (uint32_t k : tb.kids[i])
                res->kids[at++] = k;
        }
        res->nkids = at;
        *out = res;
        return SOUK_OK;
    } catch (const Xapian::QueryParserError &e) {
        set_err(err, errlen, "query syntax: " + e.get_msg());
        if (res)
            souk_query_free(res);
        for (auto &n : tb.nodes)
            souk_free(n.term);
        return SOUK_EQUERY;
    } catch (const Xapian::Error &e) {
        set_err(err, errlen, e.get_description());
        if (res)
            souk_query_free(res);
        for (auto &n : tb.nodes)
            souk_free(n.term);
        return SOUK_EXAPIAN;
    } catch (...) {
        set_err(err, errlen, "out of memory parsing query");
        if (res)
            souk_query_free(res);
        for (auto &n : tb.nodes)
            souk_free(n.term);
        return SOUK_ENOMEM;
    }
}

/* ------------------------------------------------------------------ Xapian database */

/* A Xapian database opened read-only or writable, with the last error: what the oracle
 * database (souk_xdb) and the spelling table (souk_xspell) share. */
struct XHandle {
    Xapian::Database *ro = nullptr;
    Xapian::WritableDatabase *rw = nullptr;
    std::string err;

    Xapian::Database &db()
    {
        return rw ? *rw : *ro;
    }
    void open(const char *path, int writable, int flags)
    {
        if (writable)
            rw = new Xapian::WritableDatabase(path, Xapian::DB_CREATE_OR_OPEN | flags);
        else
            ro = new Xapian::Database(path);
    }
    ~XHandle()
    {
        try {
            if (rw)
                rw->close();
        } catch (...) {
        }
        delete rw;
        delete ro;
    }
};

struct souk_xdb : XHandle {
    ParserCache parser; /* queries are parsed as a Xapian application would: one parser */
    Xapian::TermGenerator tg;
    std::unordered_map<std::string, Xapian::Stem> stems;
};

#define XDB_CATCH(db)                                                                              \
    catch (const Xapian::Error &e)                                                                 \
    {                                                                                              \
        (db)->err = e.get_description();                                                           \
        return SOUK_EXAPIAN;                                                                       \
    }                                                                                              \
    catch (const std::bad_alloc &)                                                                 \
    {                                                                                              \
        return SOUK_ENOMEM;                                                                        \
    }                                                                                              \
    catch (...)                                                                                    \
    {                                                                                              \
        (db)->err = "unknown C++ exception";                                                       \
        return SOUK_EXAPIAN;                                                                       \
    }

extern "C" int souk_xdb_open(const char *path, int writable, souk_xdb **out, char *err,
                             size_t errlen)
{
    souk_xdb *db = nullptr;
    try {
        db = new souk_xdb();
        db->open(path, writable, 0);
        db->tg.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
        db->tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
        *out = db;
        return SOUK_OK;
    } catch (const Xapian::Error &e) {
        set_err(err, errlen, e.get_description());
    } catch (...) {
        set_err(err, errlen, "cannot open Xapian database");
    }
    delete db;
    return SOUK_EXAPIAN;
}

extern "C" void souk_xdb_close(souk_xdb *db)
{
    delete db;
}

extern "C" const char *souk_xdb_errmsg(const souk_xdb *db)
{
    return db ? db->err.c_str() : "no database";
}

/* Adds analyzed terms to doc with their wdf and positions. */
static void add_xterms(Xapian::Document &doc, const souk_xterm *terms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        std::string t(terms[i].term, terms[i].len);
        if (terms[i].npositions == 0) {
            doc.add_term(t, terms[i].wdf);
            continue;
        }
        /* add_posting adds wdf_inc per position; put the remainder on add_term. */
        uint32_t per = terms[i].wdf / terms[i].npositions;
        for (uint32_t p = 0; p < terms[i].npositions; p++)
            doc.add_posting(t, terms[i].positions[p], per);
        uint32_t rest = terms[i].wdf - per * terms[i].npositions;
        if (rest)
            doc.add_term(t, rest);
    }
}

extern "C" int souk_xdb_add_terms(souk_xdb *db, const souk_xterm *terms, size_t n, const char *data,
                                  size_t data_len, uint32_t *docid)
{
    try {
        Xapian::Document doc;
        add_xterms(doc, terms, n);
        if (data)
            doc.set_data(std::string(data, data_len));
        *docid = db->rw->add_document(doc);
        return SOUK_OK;
    }
    XDB_CATCH(db)
}

extern "C" int souk_xdb_add_doc(souk_xdb *db, const souk_xterm *terms, size_t n,
                                const souk_xvalue *values, size_t nvalues, uint32_t *docid)
{
    try {
        Xapian::Document doc;
        add_xterms(doc, terms, n);
        for (size_t i = 0; i < nvalues; i++) {
            if (values[i].is_number)
                doc.add_value(values[i].slot, Xapian::sortable_serialise(values[i].number));
            else
                doc.add_value(values[i].slot, std::string(values[i].str, values[i].len));
        }
        *docid = db->rw->add_document(doc);
        return SOUK_OK;
    }
    XDB_CATCH(db)
}

extern "C" int souk_xdb_facets(souk_xdb *db, const char *q, size_t len, const char *lang,
                               const souk_qp_field *fields, size_t nfields, const unsigned *slots,
                               size_t nslots, unsigned filter_slot, double filter_max,
                               uint64_t *matches, uint64_t *counted)
{
    try {
        const char *sname = souk_language_stemmer(lang);
        if (!sname)
            sname = "none";
        Xapian::Database &d = db->db();
        Xapian::Query query =
            len ? parse_with_xapian(q, len, sname, fields, nfields, 0, &d, &db->parser)
                : Xapian::Query::MatchAll;
        query = Xapian::Query(Xapian::Query::OP_FILTER, query,
                              Xapian::Query(Xapian::Query::OP_VALUE_LE, filter_slot,
                                            Xapian::sortable_serialise(filter_max)));
        Xapian::Enquire enq(d);
        enq.set_query(query);
        enq.set_weighting_scheme(Xapian::BM25Weight());
        enq.set_docid_order(Xapian::Enquire::ASCENDING);
        std::vector<std::unique_ptr<Xapian::ValueCountMatchSpy>> spies;
        for (size_t i = 0; i < nslots; i++) {
            spies.emplace_back(new Xapian::ValueCountMatchSpy(slots[i]));
            enq.add_matchspy(spies.back().get());
        }
        /* checkatleast = the whole database: the spies see every match, as facets must. */
        Xapian::MSet ms = enq.get_mset(0, 10, d.get_doccount());
        *matches = ms.get_matches_estimated();
        uint64_t c = 0;
        for (auto &sp : spies)
            for (Xapian::TermIterator t = sp->values_begin(); t != sp->values_end(); ++t)
                c += t.get_termfreq();
        *counted = c;
        return SOUK_OK;
    }
    XDB_CATCH(db)
}

extern "C" int souk_xdb_add_text(souk_xdb *db, const souk_xfield *fields, size_t n,
                                 const char *data, size_t data_len)
{
    try {
        Xapian::Document doc;
        db->tg.set_document(doc);
        for (size_t i = 0; i < n; i++) {
            const souk_xfield &f = fields[i];
            if (f.boolean) {
                doc.add_boolean_term(std::string(f.prefix ? f.prefix : "") +
                                     std::string(f.text, f.len));
                continue;
            }
            const char *sname = souk_language_stemmer(f.lang);
            if (!sname)
                sname = "none";
            auto it = db->stems.find(sname);
            if (it == db->stems.end())
                it = db->stems
                         .emplace(sname, std::strcmp(sname, "none") == 0 ? Xapian::Stem()
                                                                         : Xapian::Stem(sname))
                         .first;
            db->tg.set_stemmer(it->second);
            db->tg.index_text(std::string(f.text, f.len), f.wdf_inc, f.prefix ? f.prefix : "");
            db->tg.increase_termpos(100);
        }
        if (data)
            doc.set_data(std::string(data, data_len));
        db->rw->add_document(doc);
        return SOUK_OK;
    }
    XDB_CATCH(db)
}

extern "C" int souk_xdb_commit(souk_xdb *db)
{
    try {
        db->rw->commit();
        return SOUK_OK;
    }
    XDB_CATCH(db)
}

extern "C" int souk_xdb_stats(souk_xdb *db, uint64_t *docs, uint64_t *total_len)
{
    try {
        Xapian::Database &d = db->db();
        *docs = d.get_doccount();
        *total_len = d.get_total_length();
        return SOUK_OK;
    }
    XDB_CATCH(db)
}

extern "C" int souk_xdb_termlist(souk_xdb *db, uint32_t docid, souk_term_fn fn, void *ctx)
{
    try {
        Xapian::Database &d = db->db();
        for (Xapian::TermIterator t = d.termlist_begin(docid); t != d.termlist_end(docid); ++t) {
            const std::string term = *t;
            Xapian::termcount wdf = t.get_wdf();
            bool any = false;
            for (Xapian::PositionIterator p = t.positionlist_begin(); p != t.positionlist_end();
                 ++p) {
                fn(ctx, term.data(), term.size(), *p, any ? 0 : wdf);
                any = true;
            }
            if (!any)
                fn(ctx, term.data(), term.size(), 0, wdf);
        }
        return SOUK_OK;
    }
    XDB_CATCH(db)
}

extern "C" int souk_xdb_search(souk_xdb *db, const char *q, size_t len, const char *lang,
                               const souk_qp_field *fields, size_t nfields, unsigned flags,
                               uint32_t first, uint32_t maxitems, uint32_t *docids, double *scores,
                               size_t *n, uint64_t *matches)
{
    try {
        const char *sname = souk_language_stemmer(lang);
        if (!sname)
            sname = "none";
        Xapian::Database &d = db->db();
        Xapian::Query query =
            parse_with_xapian(q, len, sname, fields, nfields, flags, &d, &db->parser);
        Xapian::Enquire enq(d);
        enq.set_query(query);
        enq.set_weighting_scheme(Xapian::BM25Weight());
        enq.set_docid_order(Xapian::Enquire::ASCENDING);
        Xapian::MSet ms = enq.get_mset(first, maxitems);
        size_t i = 0;
        for (Xapian::MSetIterator it = ms.begin(); it != ms.end() && i < maxitems; ++it, ++i) {
            docids[i] = *it;
            scores[i] = it.get_weight();
        }
        *n = i;
        if (matches)
            *matches = ms.get_matches_estimated();
        return SOUK_OK;
    }
    XDB_CATCH(db)
}

/* ------------------------------------------------------------------ spelling */

struct souk_xspell : XHandle {
};

extern "C" int souk_xspell_open(const char *path, int writable, souk_xspell **out, char *err,
                                size_t errlen)
{
    souk_xspell *sp = nullptr;
    try {
        sp = new souk_xspell();
        sp->open(path, writable, Xapian::DB_BACKEND_GLASS);
        *out = sp;
        return SOUK_OK;
    } catch (const Xapian::DatabaseOpeningError &e) {
        set_err(err, errlen, e.get_description());
        delete sp;
        return SOUK_ENOTFOUND;
    } catch (const Xapian::Error &e) {
        set_err(err, errlen, e.get_description());
    } catch (...) {
        set_err(err, errlen, "cannot open the spelling database");
    }
    delete sp;
    return SOUK_EXAPIAN;
}

extern "C" void souk_xspell_close(souk_xspell *sp)
{
    delete sp;
}

extern "C" const char *souk_xspell_errmsg(const souk_xspell *sp)
{
    return sp ? sp->err.c_str() : "no spelling database";
}

extern "C" int souk_xspell_reopen(souk_xspell *sp)
{
    try {
        sp->db().reopen();
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_generation(souk_xspell *sp, uint64_t *gen)
{
    try {
        std::string v = sp->db().get_metadata("souk_generation");
        *gen = v.empty() ? 0 : std::strtoull(v.c_str(), nullptr, 10);
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_words(souk_xspell *sp, souk_xspell_fn fn, void *ctx)
{
    try {
        Xapian::Database &d = sp->db();
        for (Xapian::TermIterator it = d.spellings_begin(); it != d.spellings_end(); ++it) {
            std::string w = *it;
            if (fn(ctx, w.data(), w.size(), it.get_termfreq()))
                break;
        }
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_change(souk_xspell *sp, const char *word, size_t len, int64_t delta)
{
    if (!sp->rw)
        return SOUK_EINVAL;
    try {
        std::string w(word, len);
        /* Xapian counts in termcount (32 bits): large changes go in steps. */
        const int64_t step = 0x7fffffff;
        while (delta > 0) {
            int64_t d = delta < step ? delta : step;
            sp->rw->add_spelling(w, (Xapian::termcount)d);
            delta -= d;
        }
        while (delta < 0) {
            int64_t d = -delta < step ? -delta : step;
            sp->rw->remove_spelling(w, (Xapian::termcount)d);
            delta += d;
        }
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_commit(souk_xspell *sp, uint64_t generation)
{
    if (!sp->rw)
        return SOUK_EINVAL;
    try {
        sp->rw->set_metadata("souk_generation", std::to_string(generation));
        sp->rw->commit();
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_suggest(souk_xspell *sp, const char *word, size_t len,
                                   unsigned max_edits, char *out, size_t outcap, size_t *outlen)
{
    *outlen = 0;
    try {
        std::string s;
        for (int attempt = 0;; attempt++) {
            try {
                s = sp->db().get_spelling_suggestion(std::string(word, len), max_edits);
                break;
            } catch (const Xapian::DatabaseModifiedError &) {
                /* The indexer committed twice while we read: see the newest revision. */
                if (attempt == 3)
                    throw;
                sp->db().reopen();
            }
        }
        if (s.size() >= outcap)
            return SOUK_ETOOBIG;
        memcpy(out, s.data(), s.size());
        out[s.size()] = 0;
        *outlen = s.size();
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}
