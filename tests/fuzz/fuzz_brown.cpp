// libFuzzer target: the Brown Corpus reader (data/brown.*). Any bytes either become text or fail with
// nograd::Error naming the source; the text is never empty and ends with a newline. The input is also tried
// as a corpus file name, which must give a genre a..r or an error.
#include <string_view>

#include "data/brown.h"
#include "fuzz_util.h"
#include "util/error.h"

using namespace nograd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view tagged(reinterpret_cast<const char*>(data), size);
    try {
        const std::string text = brown_to_text(tagged, "fuzz");
        FUZZ_CHECK(!text.empty() && text.back() == '\n');
    } catch (const Error& e) {
        FUZZ_CHECK(std::string_view(e.what()).find("fuzz") != std::string_view::npos);
    }
    try {
        const char genre = brown_genre(std::string(tagged.substr(0, 256)));
        FUZZ_CHECK(genre >= 'a' && genre <= 'r');
    } catch (const Error&) {
    }
    return 0;
}
