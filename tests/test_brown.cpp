// Brown Corpus reader on a small sample in the corpus's format (tests/fixtures/brown_sample: tab-opened
// paragraphs, one sentence per line, a headline, quotes, brackets, dashes, a word holding a '/').
#include <doctest/doctest.h>

#include <filesystem>

#include "data/brown.h"
#include "helpers.h"
#include "util/error.h"

using namespace nograd;

namespace {
const std::string kSample = "tests/fixtures/brown_sample";
}

TEST_SUITE("data") {

TEST_CASE("brown: tagged sample becomes plain text with quotes and punctuation spacing restored") {
    const std::string expected =
        "The harbor board met on Tuesday, and its chairman, Mr. Hale Jr. He said the new pier would cost 2-1/2 "
        "million dollars \"at the very least\".\n"
        "\n"
        "Members asked: \"Who pays?\"\n"
        "\n"
        "Budget questions\n"
        "\n"
        "The report (filed late) called the plan 'sound'; still, costs rose 4%--sharply--last year.\n";
    CHECK(read_brown_file(kSample + "/ca01") == expected);
    CHECK(read_brown_file(kSample + "/ck01") == "She didn't answer. The rain kept falling!\n");
}

TEST_CASE("brown: malformed input is an error naming the file and line") {
    std::string message;
    try {
        brown_to_text("\n\tGood/jj line/nn ./.\n\tbad-token here/rb\n", "sample");
    } catch (const Error& e) {
        message = e.what();
    }
    CHECK(message.find("sample line 3") != std::string::npos);
    CHECK(message.find("bad-token") != std::string::npos);
    CHECK_THROWS_AS(brown_to_text("\n\n  \n", "empty"), Error);
    CHECK_THROWS_AS(brown_to_text("word/ x/y", "no tag"), Error);
    CHECK_THROWS_AS(read_brown_file(kSample + "/cz99"), Error);
}

TEST_CASE("brown: genres and domains from file names") {
    CHECK(brown_genre("some/dir/ca01") == 'a');
    CHECK(brown_genre("cr09") == 'r');
    CHECK_THROWS_AS(brown_genre("cs01"), Error);
    CHECK_THROWS_AS(brown_genre("README"), Error);
    CHECK_THROWS_AS(brown_genre("ca1"), Error);
    for (char g = 'a'; g <= 'j'; g++) CHECK(brown_domain(g) == BrownDomain::informative);
    for (char g = 'k'; g <= 'r'; g++) CHECK(brown_domain(g) == BrownDomain::imaginative);
    CHECK(list_brown_files(kSample, BrownDomain::informative) ==
          std::vector<std::string>{kSample + "/ca01", kSample + "/cj12"});
    CHECK(list_brown_files(kSample, BrownDomain::imaginative) ==
          std::vector<std::string>{kSample + "/ck01", kSample + "/cr09"});
    std::string message;
    try {
        list_brown_files(kSample + "/nowhere", BrownDomain::informative);
    } catch (const Error& e) {
        message = e.what();
    }
    CHECK(message.find("fetch-brown.sh") != std::string::npos);
}

TEST_CASE("brown: write_brown_texts writes one plain-text file per corpus file") {
    testing::TempDir dir;
    const std::string out = dir.file("imaginative");
    const auto written = write_brown_texts(kSample, BrownDomain::imaginative, out);
    REQUIRE(written == std::vector<std::string>{out + "/ck01.txt", out + "/cr09.txt"});
    const std::vector<char> bytes = testing::read_bytes(written[1]);
    CHECK(std::string(bytes.begin(), bytes.end()) == "The end.\n");
}

}  // TEST_SUITE
