// `nograd tokenize`: text files (or the Brown corpus) → llm.c token shards, split by document into
// train, validation and, optionally, a test split that tuning never sees.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "data/brown.h"
#include "data/tokenize_files.h"
#include "data/tokenizer.h"
#include "data/tokenizer_bin.h"
#include "util/error.h"
#include "util/flags.h"

namespace nograd {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open for reading");
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// The documents to encode: each --in file byte for byte, or every Brown file of one domain as plain text.
std::vector<std::string> read_documents(const Flags& flags) {
    std::vector<std::string> docs;
    if (flags.has("--in") == flags.has("--brown")) throw UsageError("give either --in FILES... or --brown DIR");
    if (flags.has("--in")) {
        for (const std::string& path : flags.list("--in")) docs.push_back(read_text(path));
        return docs;
    }
    const std::string domain = flags.required("--domain");
    if (domain != "informative" && domain != "imaginative")
        throw UsageError("--domain: expected informative or imaginative, found '" + domain + "'");
    const auto files = list_brown_files(flags.text("--brown"),
                                        domain == "informative" ? BrownDomain::informative : BrownDomain::imaginative);
    for (const std::string& path : files) docs.push_back(read_brown_file(path));
    return docs;
}

// Writes PREFIX_test_000000.bin, ...: the end-of-text token before each document, as in the other splits.
size_t write_test_split(const Gpt2Tokenizer& tokenizer, const std::vector<std::string>& docs, const std::string& prefix) {
    std::vector<uint16_t> tokens;
    for (const std::string& doc : docs) {
        tokens.push_back(uint16_t(tokenizer.eot_token()));
        for (int id : tokenizer.encode(doc)) tokens.push_back(uint16_t(id));
    }
    size_t shard = 0;
    for (size_t begin = 0; begin < tokens.size(); begin += kDefaultTokensPerShard, ++shard) {
        char name[32];
        std::snprintf(name, sizeof name, "_test_%06zu.bin", shard);
        const size_t end = std::min(tokens.size(), begin + kDefaultTokensPerShard);
        write_token_shard(prefix + name, std::vector<uint16_t>(tokens.begin() + long(begin), tokens.begin() + long(end)));
    }
    return tokens.size();
}

}  // namespace

int run_tokenize(const Args& args) {
    Flags flags("nograd tokenize --vocab DIR (--in FILES... | --brown DIR --domain D) --out PREFIX [flags]",
                "Encodes each document with GPT-2's BPE (end-of-text before each) into llm.c token shards\n"
                "PREFIX_train_000000.bin, PREFIX_val_000000.bin and, with --test-fraction, PREFIX_test_000000.bin.",
                {{"--vocab", "DIR", "", "folder with encoder.json and vocab.bpe (data/fetch-vocab.sh fetches them)"},
                 {"--in", "FILES...", "", "text files, one document each, encoded byte for byte"},
                 {"--brown", "DIR", "", "or the Brown corpus folder (data/fetch-brown.sh), tags stripped"},
                 {"--domain", "D", "", "with --brown: informative (genres a-j) or imaginative (k-r)"},
                 {"--out", "PREFIX", "", "output prefix"},
                 {"--val-fraction", "F", "0.1", "share of documents for validation; 0 writes no val file"},
                 {"--test-fraction", "F", "0", "share of documents held out as a test split first"},
                 {"--seed", "S", "1337", "decides which documents go to val and test (order is kept)"},
                 {"--tokenizer-out", "FILE", "", "also write llm.c's decode-only gpt2_tokenizer.bin (alone: only that)"}});
    flags.parse(args);
    setup_threads(flags);
    const std::string vocab = flags.required("--vocab");
    if (flags.has("--tokenizer-out")) {
        write_decode_tokenizer(flags.text("--tokenizer-out"), Gpt2Tokenizer::load(vocab));
        std::printf("wrote %s\n", flags.text("--tokenizer-out").c_str());
        if (!flags.has("--in") && !flags.has("--brown") && !flags.has("--out")) return 0;
    }
    const std::string prefix = flags.required("--out");
    const double val_fraction = flags.real("--val-fraction", 0.1, 0.0, 0.999999);
    const double test_fraction = flags.real("--test-fraction", 0.0, 0.0, 0.999999);
    const uint64_t seed = uint64_t(flags.integer("--seed", 1337, 0, INT64_MAX));
    std::vector<std::string> docs = read_documents(flags);
    const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::load(vocab);
    std::vector<std::string> kept, test;
    if (test_fraction > 0) {
        if (docs.size() < 3) throw UsageError("--test-fraction needs at least 3 documents, found " + std::to_string(docs.size()));
        const std::vector<bool> is_test = choose_validation_docs(docs.size(), test_fraction, seed ^ 0x7E57u);
        for (size_t i = 0; i < docs.size(); ++i) (is_test[i] ? test : kept).push_back(std::move(docs[i]));
        const size_t test_tokens = write_test_split(tokenizer, test, prefix);
        std::printf("test: %zu documents, %zu tokens\n", test.size(), test_tokens);
    } else {
        kept = std::move(docs);
    }
    if (val_fraction > 0 && kept.size() < 2)
        throw UsageError("--val-fraction needs at least 2 documents, found " + std::to_string(kept.size()));
    const ShardSplit split = tokenize_documents(tokenizer, kept, prefix, val_fraction, seed);
    for (const std::string& f : split.train_files) std::printf("wrote %s\n", f.c_str());
    for (const std::string& f : split.val_files) std::printf("wrote %s\n", f.c_str());
    return 0;
}

}  // namespace nograd
