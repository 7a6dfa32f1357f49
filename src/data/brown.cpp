// Brown Corpus reader: strip `word/tag` tags, rejoin words into readable paragraphs, classify files by genre.
// Spacing rules are heuristics for English punctuation; they do not try to restore the original typesetting.
#include "data/brown.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace nograd {
namespace {

struct TaggedWord {
    std::string word;
    std::string tag;
};

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

// Splits a line into `word/tag` tokens at the last '/' of each (words like 1-1/2 hold a '/').
std::vector<TaggedWord> split_tagged_line(std::string_view line, const std::string& where) {
    std::vector<TaggedWord> words;
    std::istringstream tokens{std::string(line)};
    std::string token;
    while (tokens >> token) {
        size_t slash = token.rfind('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == token.size())
            throw file_error(where, "word/tag tokens", "\"" + token + "\"");
        words.push_back({token.substr(0, slash), token.substr(slash + 1)});
    }
    return words;
}

bool is_headline(const std::vector<TaggedWord>& words) {
    return std::all_of(words.begin(), words.end(),
                       [](const TaggedWord& w) { return w.tag.find("-hl") != std::string::npos; });
}

// How a corpus word is written and whether it glues to its neighbours.
struct Spelling {
    std::string text;
    bool opens = false;   // no space after it: ( [ { and opening quotes
    bool closes = false;  // no space before it: , . ; : ? ! ) ] } % and closing quotes
};

// Joins the words of one paragraph. Quote state lives here: a lone ' alternates open/close per paragraph.
class ParagraphWriter {
public:
    void add(const std::string& corpus_word) {
        const Spelling s = spell(corpus_word);
        if (duplicates_end_mark(s.text)) return;
        if (!text_.empty() && !s.closes && !after_opener_) text_ += ' ';
        text_ += s.text;
        after_opener_ = s.opens;
    }
    bool empty() const { return text_.empty(); }
    std::string take() {
        std::string done = std::move(text_);
        text_.clear();
        after_opener_ = single_quote_open_ = false;
        return done;
    }

private:
    Spelling spell(const std::string& word) {
        if (word == "``") return {"\"", true, false};
        if (word == "''") return {"\"", false, true};
        if (word == "'") {
            single_quote_open_ = !single_quote_open_;
            return {word, single_quote_open_, !single_quote_open_};
        }
        if (word == "--") return {word, true, true};  // a dash joins the words on both sides: "word--word"
        const bool opens = word == "(" || word == "[" || word == "{";
        const bool closes = word == "," || word == "." || word == ";" || word == ":" || word == "?" || word == "!" ||
                            word == ")" || word == "]" || word == "}" || word == "%";
        return {word, opens, closes};
    }

    // The corpus tags "Jr." + "." at a sentence end, and repeats a ";" that ends one of its sentences.
    bool duplicates_end_mark(const std::string& word) const {
        return (word == "." || word == ";") && !text_.empty() && text_.back() == word[0];
    }

    std::string text_;
    bool after_opener_ = false;
    bool single_quote_open_ = false;
};

std::string read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error(path, "a readable Brown Corpus file", "none (missing or unreadable; run data/fetch-brown.sh)");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

}  // namespace

std::string brown_to_text(std::string_view tagged, const std::string& source) {
    std::string text;
    ParagraphWriter paragraph;
    auto finish_paragraph = [&] {
        if (paragraph.empty()) return;
        text += (text.empty() ? "" : "\n\n") + paragraph.take();
    };
    bool blank_before = true, previous_headline = false;
    size_t line_number = 0;
    for (size_t start = 0; start < tagged.size();) {
        size_t end = std::min(tagged.find('\n', start), tagged.size());
        std::string_view line = tagged.substr(start, end - start);
        start = end + 1;
        line_number++;
        if (is_blank(line)) {
            blank_before = true;
            continue;
        }
        auto words = split_tagged_line(line, source + " line " + std::to_string(line_number));
        bool headline = is_headline(words);
        // A paragraph opens with a tab or after a blank line; a headline stands alone.
        if (blank_before || line[0] == '\t' || headline || previous_headline) finish_paragraph();
        for (const auto& w : words) paragraph.add(w.word);
        blank_before = false;
        previous_headline = headline;
    }
    finish_paragraph();
    if (text.empty()) throw file_error(source, "Brown Corpus text (word/tag tokens)", "no tokens");
    return text + "\n";
}

std::string read_brown_file(const std::string& path) { return brown_to_text(read_whole_file(path), path); }

namespace {
bool is_corpus_file_name(const std::string& name) {
    auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    return name.size() == 4 && name[0] == 'c' && name[1] >= 'a' && name[1] <= 'r' && digit(name[2]) && digit(name[3]);
}
}  // namespace

char brown_genre(const std::string& path) {
    const std::string name = std::filesystem::path(path).filename().string();
    if (!is_corpus_file_name(name))
        throw file_error(path, "a Brown Corpus file name c<genre a-r><two digits> (e.g. ca01)", "\"" + name + "\"");
    return name[1];
}

BrownDomain brown_domain(char genre) { return genre <= 'j' ? BrownDomain::informative : BrownDomain::imaginative; }

std::vector<std::string> list_brown_files(const std::string& dir, BrownDomain domain) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw file_error(dir, "a folder with the Brown Corpus (run data/fetch-brown.sh)", "no such folder");
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        // Skips README, CONTENTS, cats.txt and anything else that is not a corpus file.
        if (entry.is_regular_file() && is_corpus_file_name(name) && brown_domain(name[1]) == domain)
            files.push_back(entry.path().string());
    }
    if (files.empty()) throw file_error(dir, "Brown Corpus files ca01..cr09 (run data/fetch-brown.sh)", "none");
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::string> write_brown_texts(const std::string& brown_dir, BrownDomain domain, const std::string& out_dir) {
    std::filesystem::create_directories(out_dir);
    std::vector<std::string> written;
    for (const std::string& file : list_brown_files(brown_dir, domain)) {
        const std::string out_path = out_dir + "/" + std::filesystem::path(file).filename().string() + ".txt";
        const std::string text = read_brown_file(file);
        std::ofstream out(out_path, std::ios::binary);
        if (!out.write(text.data(), static_cast<std::streamsize>(text.size())) || !out.flush())
            throw file_error(out_path, "a writable file", "a write error");
        written.push_back(out_path);
    }
    return written;
}

}  // namespace nograd
