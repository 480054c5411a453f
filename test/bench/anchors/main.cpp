// anchors: recall@10 and queries/s of our core forest and of Annoy, hnswlib
// and FAISS on the same vectors, in one process, one thread (README.md here).
//
//   anchors [--datasets fashion,glove] [--queries N] [--libraries core,annoy,hnswlib,faiss]
//           [--fashion-dir DIR] [--glove-train FILE --glove-test FILE]
//           [--markdown FILE] [--csv FILE] [--check]
//
// Progress goes to stderr, the tables (markdown) to stdout and --markdown.
// --check: exit 1 unless every index measured reaches recall 0.99 at its
// largest setting (a broken adapter or ground truth shows up as low recall).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "anchors.hpp"

namespace {

using namespace anchors;

struct Options {
    std::vector<std::string> datasets = {"fashion", "glove"};
    std::vector<std::string> libraries = {"core", "annoy", "hnswlib", "faiss"};
    size_t queries = 1000;
    std::string fashion_dir = "/usr/share/datasets/fashion-mnist";
    std::string glove_train, glove_test;
    std::string markdown, csv;
    bool check = false;
};

std::vector<std::string> split(const std::string &s)
{
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty())
            out.push_back(item);
    return out;
}

[[noreturn]] void usage()
{
    std::fprintf(stderr,
                 "usage: anchors [--datasets fashion,glove] [--queries N] [--libraries core,annoy,hnswlib,faiss]\n"
                 "               [--fashion-dir DIR] [--glove-train FILE --glove-test FILE]\n"
                 "               [--markdown FILE] [--csv FILE] [--check]\n");
    std::exit(2);
}

Options parse(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                usage();
            return argv[++i];
        };
        if (a == "--datasets")
            o.datasets = split(value());
        else if (a == "--libraries")
            o.libraries = split(value());
        else if (a == "--queries")
            o.queries = std::strtoul(value().c_str(), nullptr, 10);
        else if (a == "--fashion-dir")
            o.fashion_dir = value();
        else if (a == "--glove-train")
            o.glove_train = value();
        else if (a == "--glove-test")
            o.glove_test = value();
        else if (a == "--markdown")
            o.markdown = value();
        else if (a == "--csv")
            o.csv = value();
        else if (a == "--check")
            o.check = true;
        else
            usage();
    }
    if (o.queries == 0)
        usage();
    return o;
}

// The most queries/s among the points reaching `recall`, or 0.
double best_at(const Row &row, double recall)
{
    double best = 0;
    for (const Point &p : row.points)
        if (p.recall >= recall)
            best = std::max(best, p.qps);
    return best;
}

std::string fixed(double v, int digits)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// 12345 -> "12,345"
std::string grouped(double v)
{
    std::string s = fixed(v, 0);
    for (int i = int(s.size()) - 3; i > 0; i -= 3)
        s.insert(size_t(i), ",");
    return s;
}

std::string table(const Bench &bench)
{
    const DataSet &d = bench.data();
    std::string out = "### " + d.name + ": " + grouped(double(d.n)) + " x " + std::to_string(d.dim) + ", " +
                      (d.metric == Metric::L2 ? "L2" : "cosine") + ", " + grouped(double(d.nq)) + " queries\n\n";
    out +=
        "| library | configuration | build CPU s | memory MB | q/s at recall >= 0.95 | >= 0.99 | setting: recall@10 -> "
        "q/s |\n";
    out += "|---|---|---|---|---|---|---|\n";
    for (const Row &r : bench.rows()) {
        if (!r.note.empty()) {
            out += "| " + r.library + " | " + r.note + " | | | | | |\n";
            continue;
        }
        std::string sweep;
        for (const Point &p : r.points)
            sweep += (sweep.empty() ? "" : "; ") + p.setting + ": " + fixed(p.recall, 3) + " -> " + grouped(p.qps);
        auto at = [&](double recall) {
            const double q = best_at(r, recall);
            return q > 0 ? grouped(q) : std::string("-");
        };
        out += "| " + r.library + " | " + r.config + " | " + (r.build_s > 0 ? fixed(r.build_s, 2) : "-") + " | " +
               fixed(r.memory_bytes / 1e6, 0) + " | " + at(0.95) + " | " + at(0.99) + " | " + sweep + " |\n";
    }
    return out + "\n";
}

std::string csv_rows(const Bench &bench)
{
    std::string out;
    for (const Row &r : bench.rows())
        for (const Point &p : r.points)
            out += bench.data().name + ",\"" + r.library + "\",\"" + r.config + "\"," + fixed(r.build_s, 3) + "," +
                   fixed(r.build_wall_s, 3) + "," + fixed(r.memory_bytes / 1e6, 1) + ",\"" + p.setting + "\"," +
                   fixed(p.recall, 4) + "," + fixed(p.qps, 1) + "," + fixed(p.qps_wall, 1) + "\n";
    return out;
}

bool wanted(const Options &o, const std::string &library)
{
    for (const std::string &l : o.libraries)
        if (l == library)
            return true;
    return false;
}

void write_file(const std::string &path, const std::string &text)
{
    FILE *f = std::fopen(path.c_str(), "w");
    if (f == nullptr || std::fputs(text.c_str(), f) < 0 || std::fclose(f) != 0)
        throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char **argv)
{
    const Options o = parse(argc, argv);
    std::string markdown,
        csv = "dataset,library,config,build_cpu_s,build_wall_s,memory_mb,setting,recall10,qps_cpu,qps_wall\n";
    bool low_recall = false;
    try {
        for (const std::string &name : o.datasets) {
            DataSet d;
            if (name == "fashion") {
                d = load_fashion(o.fashion_dir, o.queries);
            } else if (name == "glove") {
                if (o.glove_train.empty() || o.glove_test.empty())
                    throw std::runtime_error(
                        "glove needs --glove-train and --glove-test (test/tools/load_glove.sh --files)");
                d = load_glove(o.glove_train, o.glove_test, o.queries);
            } else {
                throw std::runtime_error("unknown data set '" + name + "' (fashion, glove)");
            }
            std::fprintf(stderr, "%s: %zu x %zu, %zu queries\n", d.name.c_str(), d.n, d.dim, d.nq);
            Bench bench(d);
            if (wanted(o, "core"))
                run_core(bench);
            if (wanted(o, "annoy"))
                run_annoy(bench);
            if (wanted(o, "hnswlib"))
                run_hnswlib(bench);
            if (wanted(o, "faiss"))
                run_faiss(bench);
            const std::string t = table(bench);
            std::fputs(t.c_str(), stdout);
            std::fflush(stdout);
            markdown += t;
            csv += csv_rows(bench);
            for (const Row &r : bench.rows())
                if (!r.points.empty() && r.points.back().recall < 0.99) {
                    std::fprintf(stderr, "%s: %s %s reaches only recall %.3f at its largest setting\n", d.name.c_str(),
                                 r.library.c_str(), r.config.c_str(), r.points.back().recall);
                    low_recall = true;
                }
        }
        if (!o.markdown.empty())
            write_file(o.markdown, markdown);
        if (!o.csv.empty())
            write_file(o.csv, csv);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "anchors: %s\n", e.what());
        return 1;
    }
    return o.check && low_recall ? 1 : 0;
}
