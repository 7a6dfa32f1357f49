// libFuzzer target: the GPT-2 BPE vocabulary (data/tokenizer.*), loaded from a scratch folder. The input is
// encoder.json, a NUL byte, vocab.bpe, a NUL byte, then a text to encode. Any pair of files either loads or
// fails with nograd::Error; a loaded vocabulary must encode the text to ids inside the vocabulary that
// decode back to exactly the text's bytes (the tokenizer promises this for every byte string).
#include <filesystem>
#include <string_view>

#include "data/tokenizer.h"
#include "fuzz_util.h"
#include "util/error.h"

using namespace nograd;

namespace {

// The next NUL-terminated part of the input (the rest when there is no NUL left).
std::string_view next_part(std::string_view& rest) {
    const size_t nul = rest.find('\0');
    const std::string_view part = rest.substr(0, nul);
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
    return part;
}

void write_part(const std::string& path, std::string_view part) {
    fuzz::write_file(path, reinterpret_cast<const uint8_t*>(part.data()), part.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string dir = fuzz::scratch_path("tokenizer");
    std::filesystem::create_directories(dir);
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    write_part(dir + "/encoder.json", next_part(rest));
    write_part(dir + "/vocab.bpe", next_part(rest));
    const std::string_view text = rest;
    try {
        const Gpt2Tokenizer tok = Gpt2Tokenizer::load(dir);
        const std::vector<int> ids = tok.encode(text);
        for (int id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocab_size());
        FUZZ_CHECK(tok.decode(ids) == text);
        size_t covered = 0;
        for (std::string_view piece : tok.split_pieces(text)) covered += piece.size();
        FUZZ_CHECK(covered == text.size());
    } catch (const Error&) {
    }
    return 0;
}
