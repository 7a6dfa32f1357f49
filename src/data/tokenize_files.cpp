// Files → documents → token ids → shards. Parallel over documents (one BPE cache per thread); a single
// large document is instead split inside the tokenizer.
#include "data/tokenize_files.h"

#include "data/tokenizer.h"
#include "util/error.h"
#include "util/file.h"

namespace nograd {
namespace {

std::string read_document(const std::string& path) {
    InputFile file(path);
    std::string text(file.size(), '\0');
    file.read_exact(text.data(), text.size(), "document");
    return text;
}

// Encodes every document; documents are independent, so each thread takes whole ones with its own cache.
std::vector<std::vector<int>> encode_all(const Gpt2Tokenizer& tokenizer, const std::vector<std::string>& texts) {
    std::vector<std::vector<int>> docs(texts.size());
    if (texts.size() == 1) {
        docs[0] = tokenizer.encode(texts[0]);
        return docs;
    }
#pragma omp parallel
    {
        BpeCache cache;
#pragma omp for schedule(dynamic, 1)
        for (size_t d = 0; d < texts.size(); d++) docs[d] = tokenizer.encode(texts[d], cache);
    }
    return docs;
}

}  // namespace

ShardSplit tokenize_documents(const Gpt2Tokenizer& tokenizer, const std::vector<std::string>& texts,
                              const std::string& out_prefix, double val_fraction, uint64_t seed,
                              size_t max_tokens_per_shard) {
    return write_token_shards(encode_all(tokenizer, texts), out_prefix, val_fraction, seed, max_tokens_per_shard,
                              tokenizer.eot_token());
}

ShardSplit tokenize_files(const std::string& vocab_dir, const std::vector<std::string>& inputs,
                          const std::string& out_prefix, double val_fraction, uint64_t seed,
                          size_t max_tokens_per_shard) {
    if (inputs.empty()) throw UsageError("--in: expected at least one input file, found none");
    choose_validation_docs(inputs.size(), val_fraction, seed);  // check the split before the slow part
    const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::load(vocab_dir);
    std::vector<std::string> texts;
    texts.reserve(inputs.size());
    for (const std::string& path : inputs) texts.push_back(read_document(path));
    return tokenize_documents(tokenizer, texts, out_prefix, val_fraction, seed, max_tokens_per_shard);
}

}  // namespace nograd
