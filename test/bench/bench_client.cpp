// bench_client: the measuring half of the benchmark tool (test/bench/run_bench.sh).
//
// One small libpq program, so that what is timed is the server and not a
// client library: queries are prepared once and sent with a binary vector
// parameter, the way an application would.  Subcommands:
//
//   gen    --table T --n N --dim D [--seed S] [--clusters C]
//          create T (id int primary key, v real[]) and fill it with a clustered
//          gaussian mixture, streamed as a binary COPY (fast enough for 1M x 128)
//   gt     --base T --queries Q --metric l2|cosine --nq N [--k 100] --out FILE
//          exact top-k of the first N queries (by id) by brute force; reuses
//          FILE when it already covers them
//   query  --table T --queries Q --op OP --type real[]|vector --nq N [--warmup W]
//          [--k 10] [--gt FILE] [--clients C] [--set name=value]... [--expect-index NAME|none]
//          [--floor]   (--floor: time `SELECT $1::type IS NULL`, the client + executor alone)
//          [--where EXPR [--param COL]] [--gt-table G]
//          runs `SELECT id FROM T ORDER BY v OP $1 LIMIT k` for N queries per
//          client, prints "recall qps p50_ms p99_ms forced"; with --where,
//          `SELECT id FROM T t WHERE EXPR ORDER BY ...`, EXPR's $2 being query
//          i's value of column COL of Q (as text); --gt-table reads the true
//          answers from G (qid int, ids int[], dists float8[]) instead of --gt
//   insert --table T --queries Q --type real[]|vector --n N --id-start I
//          N single-row INSERTs, each its own transaction; prints "rows_per_s seconds"
//
// Connection settings come from the usual PG* environment variables.
// Queries are the rows of Q ordered by id: the first N are measured, the next W
// warm the caches (wrapping around if Q is small).
#include <libpq-fe.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string &msg)
{
    std::fprintf(stderr, "bench_client: %s\n", msg.c_str());
    std::exit(1);
}

// ---------------------------------------------------------------- options

struct Args {
    std::string cmd;
    std::map<std::string, std::string> opt;
    std::vector<std::string> sets;  // --set name=value, repeatable

    std::string get(const std::string &k, const char *def = nullptr) const
    {
        auto it = opt.find(k);
        if (it != opt.end())
            return it->second;
        if (!def)
            die("missing --" + k);
        return def;
    }
    long num(const std::string &k, const char *def = nullptr) const
    {
        std::string v = get(k, def);
        char *end;
        long x = std::strtol(v.c_str(), &end, 10);
        if (*end || v.empty())
            die("--" + k + " wants an integer, got '" + v + "'");
        return x;
    }
    bool flag(const std::string &k) const { return opt.count(k) > 0; }
};

Args parse_args(int argc, char **argv)
{
    if (argc < 2)
        die("usage: bench_client gen|gt|query|insert --option value ... (see the source)");
    Args a;
    a.cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        std::string k = argv[i];
        if (k.rfind("--", 0) != 0)
            die("unexpected argument '" + k + "'");
        k = k.substr(2);
        if (k == "floor") {
            a.opt[k] = "1";
            continue;
        }
        if (i + 1 >= argc)
            die("--" + k + " needs a value");
        if (k == "set")
            a.sets.push_back(argv[++i]);
        else
            a.opt[k] = argv[++i];
    }
    return a;
}

// Table and column names are interpolated into SQL: accept plain identifiers only.
std::string ident(const std::string &s)
{
    if (s.empty() || s.size() > 63)
        die("bad identifier '" + s + "'");
    for (char c : s)
        if (!(std::islower((unsigned char)c) || std::isdigit((unsigned char)c) || c == '_'))
            die("bad identifier '" + s + "' (lower-case letters, digits, _)");
    return s;
}

// ---------------------------------------------------------------- libpq helpers

PGconn *connect()
{
    PGconn *c = PQconnectdb("");
    if (PQstatus(c) != CONNECTION_OK)
        die(std::string("cannot connect: ") + PQerrorMessage(c));
    return c;
}

void exec(PGconn *c, const std::string &sql)
{
    PGresult *r = PQexec(c, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die(sql + ": " + PQerrorMessage(c));
    PQclear(r);
}

std::string scalar(PGconn *c, const std::string &sql)
{
    PGresult *r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        die(sql + ": " + PQerrorMessage(c));
    std::string v = PQgetvalue(r, 0, 0);
    PQclear(r);
    return v;
}

uint32_t rd32(const char *p)
{
    uint32_t v;
    std::memcpy(&v, p, 4);
    return ntohl(v);
}
uint16_t rd16(const char *p)
{
    uint16_t v;
    std::memcpy(&v, p, 2);
    return ntohs(v);
}
void put32(std::string &s, uint32_t v)
{
    v = htonl(v);
    s.append(reinterpret_cast<const char *>(&v), 4);
}
void put16(std::string &s, uint16_t v)
{
    v = htons(v);
    s.append(reinterpret_cast<const char *>(&v), 2);
}
void putf(std::string &s, float f)
{
    uint32_t v;
    std::memcpy(&v, &f, 4);
    put32(s, v);
}

// Rows (id, vector) of a real[] column, in id order.
struct Vectors {
    int dim = 0;
    std::vector<int32_t> ids;
    std::vector<float> data;  // ids.size() x dim
    const float *row(size_t i) const { return data.data() + i * dim; }
    size_t size() const { return ids.size(); }
};

// Reads (id int, v real[]) with a binary COPY: no float parsing on either side.
Vectors fetch_vectors(PGconn *c, const std::string &table, long limit)
{
    std::string sql = "COPY (SELECT id, v FROM " + ident(table) + " ORDER BY id";
    if (limit > 0)
        sql += " LIMIT " + std::to_string(limit);
    sql += ") TO STDOUT (FORMAT binary)";
    PGresult *r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COPY_OUT)
        die(sql + ": " + PQerrorMessage(c));
    PQclear(r);
    Vectors v;
    bool header = true;
    char *buf;
    int len;
    while ((len = PQgetCopyData(c, &buf, 0)) > 0) {
        const char *p = buf;
        if (header) {  // signature (11), flags (4), extension length (4) + extension
            p += 11 + 4;
            p += 4 + rd32(p);
            header = false;
            if (p == buf + len) {  // the header may come in a message of its own
                PQfreemem(buf);
                continue;
            }
        }
        int16_t nf = int16_t(rd16(p));
        p += 2;
        if (nf == -1) {  // trailer
            PQfreemem(buf);
            continue;
        }
        if (nf != 2)
            die("unexpected COPY field count");
        if (int32_t(rd32(p)) != 4)
            die("id must be int4");
        v.ids.push_back(int32_t(rd32(p + 4)));
        p += 8;
        if (int32_t(rd32(p)) < 0)
            die(table + ": NULL vector");
        p += 4;
        // array: ndim, has-null flag, element type, then (dim, lower bound) per dimension
        if (rd32(p) != 1)
            die(table + ": vectors must be one-dimensional arrays");
        int dim = int(rd32(p + 12));
        p += 20;
        if (v.dim == 0)
            v.dim = dim;
        if (dim != v.dim)
            die(table + ": vectors of different lengths");
        for (int i = 0; i < dim; i++) {
            uint32_t bits = rd32(p + 4);
            float f;
            std::memcpy(&f, &bits, 4);
            v.data.push_back(f);
            p += 8;
        }
        PQfreemem(buf);
    }
    if (len == -2)
        die(std::string("COPY failed: ") + PQerrorMessage(c));
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(std::string("COPY failed: ") + PQerrorMessage(c));
    PQclear(r);
    if (v.ids.empty())
        die(table + " is empty");
    return v;
}

// A query vector as a binary parameter of type real[] (array_recv) or vector (vector_recv).
std::string encode(const float *x, int dim, bool as_vector)
{
    std::string s;
    if (as_vector) {
        put16(s, uint16_t(dim));
        put16(s, 0);
        for (int i = 0; i < dim; i++)
            putf(s, x[i]);
    } else {
        put32(s, 1);    // ndim
        put32(s, 0);    // no NULLs
        put32(s, 700);  // float4
        put32(s, uint32_t(dim));
        put32(s, 1);  // lower bound
        for (int i = 0; i < dim; i++) {
            put32(s, 4);
            putf(s, x[i]);
        }
    }
    return s;
}

// ---------------------------------------------------------------- gen

// splitmix64: fast, good enough for synthetic data, reproducible everywhere.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next()
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
    // Box-Muller, both values used.
    bool have = false;
    double spare = 0;
    double normal()
    {
        if (have) {
            have = false;
            return spare;
        }
        double u = uniform(), v = uniform();
        double r = std::sqrt(-2.0 * std::log(u + 1e-300));
        spare = r * std::sin(2 * M_PI * v);
        have = true;
        return r * std::cos(2 * M_PI * v);
    }
};

// Clustered gaussian mixture: C centres ~ N(0, 1) per coordinate, each point
// a centre plus N(0, sigma_c^2) noise, with sigma_c in [0.2, 0.6] per cluster
// so that clusters overlap unevenly (uniform noise alone is either trivial or
// hopeless for any ANN index).  Queries come from the same mixture with
// another seed.
int cmd_gen(const Args &a)
{
    std::string table = ident(a.get("table"));
    long n = a.num("n"), dim = a.num("dim");
    uint64_t seed = uint64_t(a.num("seed", "1"));
    long clusters = a.num("clusters", "0");
    if (n < 1 || dim < 1 || dim > 16000)
        die("gen: bad --n or --dim");
    if (clusters <= 0)
        clusters = std::clamp(n / 1000, 10L, 1000L);

    Rng centre_rng(0xC0FFEE);  // centres are shared by base and queries: fixed seed
    std::vector<float> centres(size_t(clusters) * dim);
    std::vector<float> sigma(clusters);
    for (auto &x : centres)
        x = float(centre_rng.normal());
    for (auto &s : sigma)
        s = float(0.2 + 0.4 * centre_rng.uniform());

    PGconn *c = connect();
    exec(c, "SET client_min_messages = warning");
    exec(c, "DROP TABLE IF EXISTS " + table);
    exec(c, "CREATE TABLE " + table + " (id int NOT NULL, v real[] NOT NULL)");
    // Uncompressed and in line while a row fits in a heap page; beyond
    // that (more than about 2,000 dimensions) out of line, still
    // uncompressed, as it must be.
    exec(c, "ALTER TABLE " + table + " ALTER COLUMN v SET STORAGE " + (dim <= 2000 ? "PLAIN" : "EXTERNAL"));
    exec(c, "BEGIN");
    exec(c, "TRUNCATE " + table);  // same transaction as COPY FREEZE
    PGresult *r = PQexec(c, ("COPY " + table + " (id, v) FROM STDIN (FORMAT binary, FREEZE)").c_str());
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die(std::string("COPY: ") + PQerrorMessage(c));
    PQclear(r);

    Rng rng(seed * 0x9E3779B97F4A7C15ULL + 1);
    std::string buf("PGCOPY\n\377\r\n\0", 11);
    put32(buf, 0);
    put32(buf, 0);
    for (long i = 0; i < n; i++) {
        long k = long(rng.next() % uint64_t(clusters));
        const float *ctr = &centres[size_t(k) * dim];
        put16(buf, 2);
        put32(buf, 4);
        put32(buf, uint32_t(i));
        put32(buf, uint32_t(20 + 8 * dim));
        put32(buf, 1);
        put32(buf, 0);
        put32(buf, 700);
        put32(buf, uint32_t(dim));
        put32(buf, 1);
        for (long j = 0; j < dim; j++) {
            put32(buf, 4);
            putf(buf, ctr[j] + sigma[k] * float(rng.normal()));
        }
        if (buf.size() > (1 << 20)) {
            if (PQputCopyData(c, buf.data(), int(buf.size())) != 1)
                die(PQerrorMessage(c));
            buf.clear();
        }
    }
    put16(buf, 0xffff);
    if (PQputCopyData(c, buf.data(), int(buf.size())) != 1 || PQputCopyEnd(c, nullptr) != 1)
        die(PQerrorMessage(c));
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(std::string("COPY: ") + PQerrorMessage(c));
    PQclear(r);
    exec(c, "ALTER TABLE " + table + " ADD PRIMARY KEY (id)");
    exec(c, "COMMIT");
    exec(c, "ANALYZE " + table);
    PQfinish(c);
    return 0;
}

// ---------------------------------------------------------------- ground truth

// File layout (native endianness; it never leaves this machine's cache):
//   "ANNGT1\0\0", int32 nq, int32 k, int32 n_base, int32 metric,
//   int32 query_ids[nq], int32 ids[nq*k], float dist[nq*k]
struct GroundTruth {
    int nq = 0, k = 0, n_base = 0, metric = 0;
    std::vector<int32_t> qids, ids;
    std::vector<float> dist;
};

bool read_gt(const std::string &path, GroundTruth &g)
{
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        return false;
    char magic[8];
    int32_t hdr[4];
    bool ok = std::fread(magic, 8, 1, f) == 1 && std::memcmp(magic, "ANNGT1\0\0", 8) == 0 &&
              std::fread(hdr, sizeof hdr, 1, f) == 1;
    if (ok) {
        g.nq = hdr[0], g.k = hdr[1], g.n_base = hdr[2], g.metric = hdr[3];
        size_t nk = size_t(g.nq) * g.k;
        g.qids.resize(g.nq);
        g.ids.resize(nk);
        g.dist.resize(nk);
        ok = std::fread(g.qids.data(), 4, g.nq, f) == size_t(g.nq) && std::fread(g.ids.data(), 4, nk, f) == nk &&
             std::fread(g.dist.data(), 4, nk, f) == nk;
    }
    std::fclose(f);
    return ok;
}

void write_gt(const std::string &path, const GroundTruth &g)
{
    std::string tmp = path + ".tmp";
    FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f)
        die("cannot write " + tmp);
    int32_t hdr[4] = {g.nq, g.k, g.n_base, g.metric};
    std::fwrite("ANNGT1\0\0", 8, 1, f);
    std::fwrite(hdr, sizeof hdr, 1, f);
    std::fwrite(g.qids.data(), 4, g.qids.size(), f);
    std::fwrite(g.ids.data(), 4, g.ids.size(), f);
    std::fwrite(g.dist.data(), 4, g.dist.size(), f);
    if (std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0)
        die("cannot write " + path);
}

// Eight independent accumulators so that -O3 vectorises without -ffast-math.
float dot(const float *a, const float *b, int d)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    float t = 0;
    for (; i < d; i++)
        t += a[i] * b[i];
    return t + ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}
float sqdist(const float *a, const float *b, int d)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; j++) {
            float x = a[i + j] - b[i + j];
            s[j] += x * x;
        }
    float t = 0;
    for (; i < d; i++)
        t += (a[i] - b[i]) * (a[i] - b[i]);
    return t + ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

int cmd_gt(const Args &a)
{
    std::string out = a.get("out");
    std::string metric_name = a.get("metric");
    int metric = metric_name == "l2" ? 0 : metric_name == "cosine" ? 1 : -1;
    if (metric < 0)
        die("gt: --metric must be l2 or cosine");
    int nq = int(a.num("nq")), k = int(a.num("k", "100"));

    PGconn *c = connect();
    Vectors q = fetch_vectors(c, a.get("queries"), nq);
    nq = int(q.size());
    GroundTruth old;
    long n_base = std::stol(scalar(c, "SELECT count(*) FROM " + ident(a.get("base"))));
    if (read_gt(out, old) && old.nq >= nq && old.k >= k && old.n_base == n_base && old.metric == metric &&
        std::equal(q.ids.begin(), q.ids.end(), old.qids.begin())) {
        std::fprintf(stderr, "bench_client: ground truth cached in %s\n", out.c_str());
        PQfinish(c);
        return 0;
    }
    auto t0 = Clock::now();
    Vectors b = fetch_vectors(c, a.get("base"), 0);
    PQfinish(c);
    if (b.dim != q.dim)
        die("gt: base and queries differ in dimension");
    int d = b.dim;
    size_t n = b.size();
    k = int(std::min<size_t>(k, n));

    std::vector<float> bnorm(n), qnorm(nq);
    if (metric == 1) {
        for (size_t i = 0; i < n; i++)
            bnorm[i] = std::sqrt(dot(b.row(i), b.row(i), d));
        for (int i = 0; i < nq; i++)
            qnorm[i] = std::sqrt(dot(q.row(i), q.row(i), d));
    }

    GroundTruth g;
    g.nq = nq, g.k = k, g.n_base = int(n), g.metric = metric;
    g.qids = q.ids;
    g.ids.resize(size_t(nq) * k);
    g.dist.resize(size_t(nq) * k);

    // Blocks of queries against chunks of the base that stay in cache: the
    // base is streamed from memory once per block, not once per query.
    const int qblock = 32;
    const size_t chunk = std::max<size_t>(64, (256 * 1024) / (sizeof(float) * d));
    std::atomic<int> next_block{0};
    auto worker = [&]() {
        std::vector<std::vector<std::pair<float, int32_t>>> heaps(qblock);
        for (;;) {
            int q0 = next_block.fetch_add(qblock);
            if (q0 >= nq)
                break;
            int q1 = std::min(nq, q0 + qblock);
            for (auto &h : heaps)
                h.clear();
            for (size_t c0 = 0; c0 < n; c0 += chunk) {
                size_t c1 = std::min(n, c0 + chunk);
                for (int qi = q0; qi < q1; qi++) {
                    auto &h = heaps[qi - q0];  // max-heap of the k best so far
                    const float *x = q.row(qi);
                    for (size_t i = c0; i < c1; i++) {
                        float dd =
                            metric == 0 ? sqdist(x, b.row(i), d) : 1.0f - dot(x, b.row(i), d) / (qnorm[qi] * bnorm[i]);
                        if (int(h.size()) < k) {
                            h.emplace_back(dd, b.ids[i]);
                            std::push_heap(h.begin(), h.end());
                        } else if (dd < h.front().first) {
                            std::pop_heap(h.begin(), h.end());
                            h.back() = {dd, b.ids[i]};
                            std::push_heap(h.begin(), h.end());
                        }
                    }
                }
            }
            for (int qi = q0; qi < q1; qi++) {
                auto &h = heaps[qi - q0];
                std::sort_heap(h.begin(), h.end());
                for (int j = 0; j < k; j++) {
                    g.ids[size_t(qi) * k + j] = h[j].second;
                    g.dist[size_t(qi) * k + j] = metric == 0 ? std::sqrt(h[j].first) : h[j].first;
                }
            }
        }
    };
    int nt = int(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> th;
    for (int t = 0; t < nt; t++)
        th.emplace_back(worker);
    for (auto &t : th)
        t.join();
    write_gt(out, g);
    std::fprintf(stderr, "bench_client: ground truth for %d queries over %zu rows in %.1f s -> %s\n", nq, n,
                 std::chrono::duration<double>(Clock::now() - t0).count(), out.c_str());
    return 0;
}

// Recall@k of one result: a returned id is a hit if it is among the true
// neighbours whose distance is at most the k-th true distance (so ties at the
// k-th distance count, as datasets.md asks).  Ids beyond the stored top-K are
// misses.  When fewer than k rows exist (a filter matching few rows; padded
// with id -1), the fraction of those found.
double recall_one(const GroundTruth &g, int qi, const std::vector<int32_t> &got, int k)
{
    const int32_t *ids = &g.ids[size_t(qi) * g.k];
    const float *dist = &g.dist[size_t(qi) * g.k];
    int exist = int(std::count_if(ids, ids + std::min(k, g.k), [](int32_t id) { return id >= 0; }));
    if (exist == 0)
        return 1.0;
    if (exist < k)
        k = exist;
    float kth = dist[std::min(k, g.k) - 1];
    float limit = kth + 1e-5f * std::fabs(kth) + 1e-6f;  // float rounding on either side
    int hits = 0;
    for (int32_t id : got)
        for (int j = 0; j < g.k && dist[j] <= limit; j++)
            if (ids[j] == id) {
                hits++;
                break;
            }
    return double(std::min(hits, k)) / k;
}

// The true answers of filtered queries, from a table the caller computed with
// an exact plan: (qid int, ids int[], dists float8[]), dists ascending.  Rows
// with fewer than k answers (filters matching fewer rows) are padded with
// id -1 at infinite distance, so they count as misses only when the index
// returns fewer rows than exist.
GroundTruth gt_from_table(PGconn *c, const std::string &table, const Vectors &q, int nq, int k)
{
    GroundTruth g;
    g.nq = nq;
    g.k = k;
    PGresult *r = PQexec(c, ("SELECT qid, array_length(ids, 1), array_to_string(ids, ' '), array_to_string(dists, ' ') "
                             "FROM " +
                             ident(table) + " ORDER BY qid LIMIT " + std::to_string(nq))
                                .c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < nq)
        die("ground truth table " + table + " misses queries: " + PQerrorMessage(c));
    for (int i = 0; i < nq; i++) {
        if (std::atol(PQgetvalue(r, i, 0)) != q.ids[size_t(i)])
            die("ground truth table " + table + " does not match the queries");
        g.qids.push_back(q.ids[size_t(i)]);
        const char *ip = PQgetvalue(r, i, 2), *dp = PQgetvalue(r, i, 3);
        int m = PQgetisnull(r, i, 1) ? 0 : int(std::atol(PQgetvalue(r, i, 1)));
        for (int j = 0; j < k; j++) {
            char *end;
            if (j < m) {
                g.ids.push_back(int32_t(std::strtol(ip, &end, 10)));
                ip = end;
                g.dist.push_back(std::strtof(dp, &end));
                dp = end;
            } else {
                g.ids.push_back(-1);
                g.dist.push_back(INFINITY);
            }
        }
    }
    PQclear(r);
    return g;
}

// ---------------------------------------------------------------- query

struct Gate {  // all clients start timing together
    std::mutex m;
    std::condition_variable cv;
    int waiting = 0, total;
    explicit Gate(int n) : total(n) {}
    void arrive()
    {
        std::unique_lock<std::mutex> l(m);
        if (++waiting == total)
            cv.notify_all();
        else
            cv.wait(l, [&] { return waiting >= total; });
    }
};

int cmd_query(const Args &a)
{
    std::string table = ident(a.get("table"));
    std::string op = a.get("op", "<->");
    if (op.size() > 4 || op.find_first_not_of("<>-=#+~") != std::string::npos)
        die("bad --op");
    std::string type = a.get("type", "real[]");
    if (type != "real[]" && type != "vector")
        die("--type must be real[] or vector");
    bool as_vector = type == "vector";
    int nq = int(a.num("nq")), warmup = int(a.num("warmup", "100")), k = int(a.num("k", "10"));
    int clients = int(a.num("clients", "1"));
    bool floor = a.flag("floor");
    std::string expect_index = a.get("expect-index", "");

    PGconn *c0 = connect();
    // Only the measured and the warm-up queries (plus the clients' offsets).
    Vectors q = fetch_vectors(c0, a.get("queries"), long(nq) + warmup + 7L * clients);
    if (int(q.size()) < nq)
        nq = int(q.size());
    GroundTruth g;
    bool have_gt = !floor && (a.flag("gt") || a.flag("gt-table"));
    if (have_gt && a.flag("gt-table")) {
        g = gt_from_table(c0, a.get("gt-table"), q, nq, k);
    } else if (have_gt) {
        if (!read_gt(a.get("gt"), g))
            die("cannot read ground truth " + a.get("gt"));
        if (g.nq < nq || !std::equal(g.qids.begin(), g.qids.begin() + nq, q.ids.begin()))
            die("ground truth does not match the queries; delete " + a.get("gt"));
    }
    std::vector<std::string> params(q.size());
    for (size_t i = 0; i < q.size(); i++)
        params[i] = encode(q.row(i), q.dim, as_vector);
    // Filtered queries: WHERE EXPR, with query i's filter value (text) as $2.
    std::string where = a.get("where", "");
    std::vector<std::string> filter_values;
    if (a.flag("param")) {
        PGresult *r = PQexec(c0, ("SELECT " + ident(a.get("param")) + "::text FROM " + ident(a.get("queries")) +
                                  " ORDER BY id LIMIT " + std::to_string(q.size()))
                                     .c_str());
        if (PQresultStatus(r) != PGRES_TUPLES_OK || size_t(PQntuples(r)) != q.size())
            die("cannot read the filter values: " + std::string(PQerrorMessage(c0)));
        for (int i = 0; i < PQntuples(r); i++)
            filter_values.push_back(PQgetvalue(r, i, 0));
        PQclear(r);
    }
    const int nparams = filter_values.empty() ? 1 : 2;

    std::string sql = floor           ? "SELECT $1::" + type + " IS NULL"
                      : where.empty() ? "SELECT id FROM " + table + " ORDER BY v " + op + " $1::" + type + " LIMIT " +
                                            std::to_string(k)
                                      : "SELECT id FROM " + table + " t WHERE " + where + " ORDER BY v " + op +
                                            " $1::" + type + " LIMIT " + std::to_string(k);
    std::vector<std::string> sets = a.sets;

    // Check the plan once: an index sweep that silently ran as a sequential
    // scan would measure the wrong thing.  If the planner does not choose the
    // index on its own, say so and force it (that is itself a finding).
    bool forced = false;
    auto plan = [&](PGconn *c) {
        const char *vals[2] = {params[0].data(), nparams > 1 ? filter_values[0].c_str() : nullptr};
        int lens[2] = {int(params[0].size()), 0}, fmts[2] = {1, 0};
        PGresult *r = PQexecParams(c, ("EXPLAIN " + sql).c_str(), nparams, nullptr, vals, lens, fmts, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("EXPLAIN: " + std::string(PQerrorMessage(c)));
        std::string text;
        for (int i = 0; i < PQntuples(r); i++)
            text += std::string(PQgetvalue(r, i, 0)) + "\n";
        PQclear(r);
        return text;
    };
    for (auto &s : sets) {
        auto eq = s.find('=');
        if (eq == std::string::npos)
            die("--set wants name=value");
        exec(c0, "SET " + s.substr(0, eq) + " = '" + s.substr(eq + 1) + "'");
    }
    if (!floor && expect_index == "none") {  // exact scan: no index may be used for the ORDER BY
        std::string p = plan(c0);
        if (p.find("Index Scan") != std::string::npos || p.find("Index Only Scan") != std::string::npos)
            die("expected an exact scan, but the plan is:\n" + p);
    } else if (!floor && !expect_index.empty()) {
        // An index scan of it, or (a btree on a filter column) a bitmap scan.
        std::string want = "Index Scan using " + expect_index + " ", bitmap = "Bitmap Index Scan on " + expect_index;
        auto uses = [&](const std::string &p) {
            return p.find(want) != std::string::npos || p.find(bitmap) != std::string::npos;
        };
        std::string p = plan(c0);
        if (!uses(p)) {
            exec(c0, "SET enable_seqscan = off");
            if (!uses(plan(c0)))
                die("the plan does not use index " + expect_index + ":\n" + p);
            std::fprintf(stderr, "bench_client: NOTE: the planner did not choose %s by itself (%s); forced it\n",
                         expect_index.c_str(), sets.empty() ? "" : sets.back().c_str());
            sets.push_back("enable_seqscan=off");
            forced = true;
        }
    }
    PQfinish(c0);

    struct Result {
        std::vector<double> lat_ms;
        double recall_sum = 0;
    };
    std::vector<Result> results(clients);
    Gate ready(clients + 1), go(clients + 1);
    std::mutex err_m;
    std::string err;
    auto fail = [&](const std::string &m) {
        std::lock_guard<std::mutex> l(err_m);
        if (err.empty())
            err = m.empty() ? "unknown error" : m;
    };

    auto client = [&](int t) {
        PGconn *c = connect();
        std::vector<int32_t> ids;
        auto run = [&](size_t qi) {  // one execution of the prepared query; ids -> `ids`
            const char *vals[2] = {params[qi].data(), nparams > 1 ? filter_values[qi].c_str() : nullptr};
            int lens[2] = {int(params[qi].size()), 0}, fmts[2] = {1, 0};
            PGresult *r = PQexecPrepared(c, "q", nparams, vals, lens, fmts, 0);
            bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
            ids.clear();
            if (ok && !floor)
                for (int j = 0; j < PQntuples(r); j++)
                    ids.push_back(int32_t(std::atol(PQgetvalue(r, j, 0))));
            PQclear(r);
            if (!ok)
                fail(PQerrorMessage(c));
            return ok;
        };
        bool ok = true;
        for (auto &s : sets) {
            auto eq = s.find('=');
            PGresult *r = PQexec(c, ("SET " + s.substr(0, eq) + " = '" + s.substr(eq + 1) + "'").c_str());
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                ok = false, fail(PQerrorMessage(c));
            PQclear(r);
        }
        PGresult *r = PQprepare(c, "q", sql.c_str(), 0, nullptr);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            ok = false, fail(PQerrorMessage(c));
        PQclear(r);
        // Warm-up queries are the ones after the measured ones (wrapping around).
        for (int i = 0; ok && i < warmup; i++)
            ok = run(size_t(nq + i + t * 7) % q.size());
        ready.arrive();
        go.arrive();
        Result &res = results[t];
        for (int i = 0; ok && i < nq; i++) {
            // Every client runs every query, each starting at its own offset.
            int qi = (i + t * nq / clients) % nq;
            auto t0 = Clock::now();
            ok = run(size_t(qi));
            res.lat_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            if (have_gt)
                res.recall_sum += recall_one(g, qi, ids, k);
        }
        PQfinish(c);
    };
    std::vector<std::thread> th;
    for (int t = 0; t < clients; t++)
        th.emplace_back(client, t);
    ready.arrive();
    auto t_start = Clock::now();
    go.arrive();
    for (auto &x : th)
        x.join();
    auto t_end = Clock::now();
    if (!err.empty())
        die("query failed: " + err);

    std::vector<double> lat;
    double recall_sum = 0;
    for (auto &r : results) {
        lat.insert(lat.end(), r.lat_ms.begin(), r.lat_ms.end());
        recall_sum += r.recall_sum;
    }
    long n = long(lat.size());
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, size_t(p * lat.size()))]; };
    double secs = std::chrono::duration<double>(t_end - t_start).count();
    // recall is "-" without ground truth (floor runs)
    char recall[32] = "-";
    if (have_gt)
        std::snprintf(recall, sizeof recall, "%.4f", recall_sum / n);
    std::printf("%s %.1f %.3f %.3f %d\n", recall, n / secs, pct(0.5), pct(0.99), forced ? 1 : 0);
    return 0;
}

// ---------------------------------------------------------------- insert

int cmd_insert(const Args &a)
{
    std::string table = ident(a.get("table"));
    std::string type = a.get("type", "real[]");
    if (type != "real[]" && type != "vector")
        die("--type must be real[] or vector");
    long n = a.num("n"), id0 = a.num("id-start");
    PGconn *c = connect();
    Vectors q = fetch_vectors(c, a.get("queries"), 0);
    std::string sql = "INSERT INTO " + table + " (id, v) VALUES ($1::int, $2::" + type + ")";
    PGresult *r = PQprepare(c, "ins", sql.c_str(), 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(sql + ": " + PQerrorMessage(c));
    PQclear(r);
    auto t0 = Clock::now();
    for (long i = 0; i < n; i++) {
        // Vectors of the query set, cycled: real data, not in the index yet.
        std::string v = encode(q.row(size_t(i) % q.size()), q.dim, type == "vector");
        std::string id;
        put32(id, uint32_t(id0 + i));
        const char *vals[2] = {id.data(), v.data()};
        int lens[2] = {4, int(v.size())}, fmts[2] = {1, 1};
        r = PQexecPrepared(c, "ins", 2, vals, lens, fmts, 0);  // autocommit: one transaction per row
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die(sql + ": " + PQerrorMessage(c));
        PQclear(r);
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    PQfinish(c);
    std::printf("%.1f %.3f\n", n / secs, secs);
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    Args a = parse_args(argc, argv);
    if (a.cmd == "gen")
        return cmd_gen(a);
    if (a.cmd == "gt")
        return cmd_gt(a);
    if (a.cmd == "query")
        return cmd_query(a);
    if (a.cmd == "insert")
        return cmd_insert(a);
    die("unknown command '" + a.cmd + "' (gen, gt, query, insert)");
}
