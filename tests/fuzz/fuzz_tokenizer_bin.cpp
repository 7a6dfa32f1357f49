// libFuzzer target: llm.c's decode-only gpt2_tokenizer.bin (data/tokenizer_bin.*). Any bytes either load or
// fail with nograd::Error; a loaded tokenizer decodes every id, refuses ids outside the vocabulary, and
// writes back to a file that loads to the same tokens.
#include "data/tokenizer_bin.h"
#include "fuzz_util.h"
#include "util/error.h"

using namespace nograd;

namespace {

void check_loaded(const DecodeTokenizer& tok, const std::string& path) {
    FUZZ_CHECK(tok.vocab_size() > 0 && tok.eot_token() >= 0 && tok.eot_token() < tok.vocab_size());
    std::vector<std::string> tokens;
    for (int id = 0; id < tok.vocab_size(); ++id) {
        tokens.push_back(tok.decode_token(id));
        FUZZ_CHECK(!tokens.back().empty() && tokens.back().size() <= 255);
    }
    bool refused = false;
    try {
        tok.decode({tok.vocab_size()});
    } catch (const Error&) {
        refused = true;
    }
    FUZZ_CHECK(refused);
    const std::string again_path = path + ".again";
    write_decode_tokenizer(again_path, tokens, tok.eot_token());
    const DecodeTokenizer again = DecodeTokenizer::load(again_path);
    std::remove(again_path.c_str());
    FUZZ_CHECK(again.vocab_size() == tok.vocab_size() && again.eot_token() == tok.eot_token());
    for (int id = 0; id < tok.vocab_size(); ++id) FUZZ_CHECK(again.decode_token(id) == tokens[size_t(id)]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = fuzz::scratch_path("tokenizer-bin", ".bin");
    fuzz::write_file(path, data, size);
    try {
        const DecodeTokenizer tok = DecodeTokenizer::load(path);
        check_loaded(tok, path);
    } catch (const Error&) {
    }
    return 0;
}
