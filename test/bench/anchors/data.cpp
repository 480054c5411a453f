// Reading the data sets the benchmark tool loads into Postgres, straight from
// the files the loaders of test/tools use: Fashion-MNIST's gzipped IDX files
// (Debian dataset-fashion-mnist) and GloVe's cached COPY files
// (test/tools/load_glove.sh --files).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "anchors.hpp"

namespace anchors {

namespace {

struct PipeCloser {
    void operator()(FILE *f) const { pclose(f); }
};
using Pipe = std::unique_ptr<FILE, PipeCloser>;

uint32_t big_endian(const unsigned char *p)
{
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// The first `limit` images of a gzipped IDX3 file (header: magic 0x803,
// count, rows, cols, all big-endian; then one byte a pixel), appended to
// `out` as floats.  Returns how many were read; sets dim.
size_t read_idx3(const std::string &path, size_t limit, size_t &dim, std::vector<float> &out)
{
    if (FILE *f = std::fopen(path.c_str(), "rb"))
        std::fclose(f);
    else
        throw std::runtime_error("cannot read " + path +
                                 " (Debian: apt-get install dataset-fashion-mnist, or pass --fashion-dir)");
    Pipe in(popen(("gzip -dc '" + path + "'").c_str(), "r"));
    if (!in)
        throw std::runtime_error("cannot run gzip on " + path);
    unsigned char header[16];
    if (std::fread(header, 1, sizeof header, in.get()) != sizeof header || big_endian(header) != 0x803)
        throw std::runtime_error(path + " is not an IDX3 image file");
    const size_t count = std::min<size_t>(big_endian(header + 4), limit);
    dim = size_t(big_endian(header + 8)) * big_endian(header + 12);
    std::vector<unsigned char> pixels(count * dim);
    if (std::fread(pixels.data(), 1, pixels.size(), in.get()) != pixels.size())
        throw std::runtime_error(path + " is truncated");
    out.insert(out.end(), pixels.begin(), pixels.end());
    // Drain the pipe so gzip exits quietly when only part was wanted.
    char sink[1 << 16];
    while (std::fread(sink, 1, sizeof sink, in.get()) > 0) {
    }
    return count;
}

// Rows of a COPY text file "id<TAB>word<TAB>{x1,x2,...}": the vectors, in
// file order (the loader writes them by id).  At most `limit` rows.
size_t read_copy(const std::string &path, size_t limit, size_t &dim, std::vector<float> &out)
{
    std::unique_ptr<FILE, int (*)(FILE *)> in(std::fopen(path.c_str(), "r"), std::fclose);
    if (!in)
        throw std::runtime_error("cannot read " + path + " (make it with test/tools/load_glove.sh --files)");
    size_t rows = 0;
    std::vector<char> line(1 << 16);
    std::vector<float> v;
    while (rows < limit && std::fgets(line.data(), int(line.size()), in.get())) {
        // The array is the last field (a word may be "{").
        const char *p = std::strrchr(line.data(), '\t');
        if (p == nullptr || *++p != '{')
            throw std::runtime_error(path + ": row " + std::to_string(rows + 1) + " has no array");
        v.clear();
        for (char *end = nullptr;; p = end) {
            v.push_back(std::strtof(p + 1, &end));  // p points at '{' or ','
            if (end == p + 1 || (*end != ',' && *end != '}'))
                throw std::runtime_error(path + ": row " + std::to_string(rows + 1) + " is malformed");
            if (*end == '}')
                break;
        }
        if (rows == 0)
            dim = v.size();
        else if (v.size() != dim)
            throw std::runtime_error(path + ": row " + std::to_string(rows + 1) + " has another dimension");
        out.insert(out.end(), v.begin(), v.end());
        rows++;
    }
    if (rows == 0)
        throw std::runtime_error(path + " has no rows");
    return rows;
}

}  // namespace

DataSet load_fashion(const std::string &dir, size_t nq)
{
    DataSet d;
    d.name = "fashion";
    d.metric = Metric::L2;
    size_t qdim = 0;
    d.n = read_idx3(dir + "/train-images-idx3-ubyte.gz", SIZE_MAX, d.dim, d.base);
    d.nq = read_idx3(dir + "/t10k-images-idx3-ubyte.gz", nq, qdim, d.queries);
    if (qdim != d.dim)
        throw std::runtime_error("Fashion-MNIST train and test images differ in size");
    return d;
}

DataSet load_glove(const std::string &train_copy, const std::string &test_copy, size_t nq)
{
    DataSet d;
    d.metric = Metric::Cosine;
    size_t qdim = 0;
    d.n = read_copy(train_copy, SIZE_MAX, d.dim, d.base);
    d.nq = read_copy(test_copy, nq, qdim, d.queries);
    d.name = "glove-" + std::to_string(d.n);
    if (qdim != d.dim)
        throw std::runtime_error("GloVe base and query vectors differ in dimension");
    return d;
}

std::vector<float> normalized(const float *v, size_t n, size_t dim)
{
    std::vector<float> out(v, v + n * dim);
    for (size_t i = 0; i < n; i++) {
        float *x = &out[i * dim];
        double s = 0;
        for (size_t j = 0; j < dim; j++)
            s += double(x[j]) * x[j];
        const float inv = s > 0 ? float(1.0 / std::sqrt(s)) : 0.0f;
        for (size_t j = 0; j < dim; j++)
            x[j] *= inv;
    }
    return out;
}

}  // namespace anchors
