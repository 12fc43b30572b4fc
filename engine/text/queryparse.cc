/* queryparse.cc: query parsing (souk/queryparse.h): Xapian's QueryParser,
 * configured the way every Souk query is parsed, turned into the flat tree (souk_query) that
 * Souk's own matcher evaluates; plain-word queries take a fast path that builds the same tree.
 *
 * Every extern "C" function catches every exception and maps it to a SOUK_E* code. */
#include "souk/analysis.h"
#include "souk/queryparse.h"
#include "text/text_int.h"

#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

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

thread_local ParserCache parser_cache;

} // namespace

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
        if (words.size() > 1)
            tb.kids[0].push_back(static_cast<uint32_t>(tb.nodes.size()));
        tb.nodes.push_back(n);
        tb.kids.emplace_back();
        /* The term is allocated once its node is in tb, which frees it if anything throws. */
        char *t = static_cast<char *>(souk_malloc(term.size() + 1));
        if (!t)
            throw std::bad_alloc();
        std::memcpy(t, term.c_str(), term.size() + 1);
        tb.nodes.back().term = t;
        tb.nodes.back().term_len = term.size();
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
