/* xdb.cc: a real Xapian database (tests/kit/xdb.h): the same
 * analyzed documents as a Souk index, searched with Xapian's own BM25, as test oracle and
 * benchmark reference.
 *
 * Every extern "C" function catches every exception and maps it to a SOUK_E* code. */
#include "xdb.h"
#include "text/text_int.h"

#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>
#include <memory>

struct souk_xdb : XHandle {
    ParserCache parser; /* queries are parsed as a Xapian application would: one parser */
    Xapian::TermGenerator tg;
    std::unordered_map<std::string, Xapian::Stem> stems;
};

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
