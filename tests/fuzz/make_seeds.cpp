// Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ with nograd's own writers, so
// the seeds are valid files of the current formats (plus a few near-misses). Run by `make fuzz-seeds` when
// a format changes; the seeds are committed. Not a fuzz target itself.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "data/shard_writer.h"
#include "data/tokenizer_bin.h"
#include "model/checkpoint.h"
#include "model/gpt2.h"
#include "model/model_file.h"
#include "resume_setup.h"
#include "train/train_state.h"

using namespace nograd;
namespace fs = std::filesystem;

namespace {

const std::string kRoot = "tests/fuzz/corpus/";

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::string& bytes) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

void checkpoint_seeds() {
    GPT2Config c;
    c.vocab_size = 5; c.padded_vocab_size = 128; c.max_seq_len = 3; c.num_layers = 1; c.num_heads = 2; c.channels = 4;
    GPT2 model(c);
    init_gpt2_weights(model, 1);
    const std::string fp32 = kRoot + "checkpoint/tiny_fp32.bin";
    save_checkpoint(model, fp32);
    // The same as bf16 (version 5): the top half of each float.
    std::string bytes = read_all(fp32), bf16 = bytes.substr(0, 1024);
    bf16[4] = 5;
    for (size_t i = 1024; i + 4 <= bytes.size(); i += 4) bf16 += bytes.substr(i + 2, 2);
    write_all(kRoot + "checkpoint/tiny_bf16.bin", bf16);
    write_all(kRoot + "checkpoint/header_only.bin", bytes.substr(0, 1024));
}

void shard_seeds() {
    std::vector<uint16_t> tokens;
    for (int i = 0; i < 40; ++i) tokens.push_back(uint16_t((i * 37) % 300));
    write_token_shard(kRoot + "shard/small.bin", tokens);
    tokens[17] = 299 + 5;  // one id past the fuzz target's vocabulary of 300
    write_token_shard(kRoot + "shard/bad_token.bin", tokens);
}

void train_state_seeds() {
    std::vector<float> m = {0.5f, -1.0f, 3.25f}, v = {1e-8f, 2.0f};
    const nlohmann::json meta = {{"step", 3}, {"settings", {{"optimizer", "adamw"}, {"batch", 2}}},
                                 {"optimizer", {{"t", 3}}}, {"model_checksum", 1234567890123ull},
                                 {"first_loss", 4.5}};
    const std::string path = kRoot + "train_state/tmp.state";
    {
        AtomicOutputFile out(path);
        write_train_state(out, meta, {std::span<float>(m), std::span<float>(v)});
        out.commit();
    }
    const std::string bytes = read_all(path);
    fs::remove(path);
    // The target's first byte: 0 = as is, 1 = checksum spliced in by the target (so it is left out here).
    write_all(kRoot + "train_state/as_is.state", std::string(1, '\0') + bytes);
    write_all(kRoot + "train_state/checksummed.state", std::string(1, '\1') + bytes.substr(0, bytes.size() - 8));
}

// GPT-2's byte-to-unicode alphabet: printable Latin-1 bytes stand for themselves, the others get 256, 257, ...
std::vector<std::string> byte_alphabet() {
    std::vector<std::string> out(256);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        const int cp = printable ? b : next++;
        out[size_t(b)] = cp < 0x80 ? std::string(1, char(cp))
                                   : std::string{char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
    }
    return out;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) out += ch == '"' || ch == '\\' ? std::string{'\\', ch} : std::string(1, ch);
    return out + "\"";
}

void tokenizer_seeds() {
    const std::vector<std::string> alphabet = byte_alphabet();
    const std::string space = alphabet[' '];
    std::vector<std::string> tokens(alphabet);
    const std::vector<std::pair<std::string, std::string>> merges = {
        {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {space, "w"}, {"o", "r"}, {space + "w", "or"}};
    for (const auto& [a, b] : merges) tokens.push_back(a + b);
    tokens.push_back("<|endoftext|>");
    std::string encoder = "{";
    for (size_t id = 0; id < tokens.size(); ++id) encoder += (id ? "," : "") + json_string(tokens[id]) + ":" + std::to_string(id);
    encoder += "}";
    std::string bpe = "#version: 0.2\n";
    for (const auto& [a, b] : merges) bpe += a + " " + b + "\n";
    const std::string text = "hello world, it's 2024!\n\xff\xfe caf\xc3\xa9 \xe2\x80\x94 <|endoftext|>  ";
    write_all(kRoot + "tokenizer/small_vocab", encoder + '\0' + bpe + '\0' + text);
    write_all(kRoot + "tokenizer/bad_merge", encoder + '\0' + "#version: 0.2\nq zz\n" + '\0' + text);

    // The decode-only file of the same vocabulary (raw bytes per token).
    std::vector<std::string> raw;
    for (int b = 0; b < 256; ++b) raw.push_back(std::string(1, char(b)));
    for (const char* t : {"he", "ll", "hell", "hello", " w", "or", " wor", "<|endoftext|>"}) raw.push_back(t);
    write_decode_tokenizer(kRoot + "tokenizer_bin/small.bin", raw, int(raw.size()) - 1);
}

// A tiny GPT-2 as .safetensors, behind the 2-byte length of its config.json (and once without one).
void safetensors_seeds() {
    GPT2Config c;
    c.vocab_size = 5; c.padded_vocab_size = 128; c.max_seq_len = 3; c.num_layers = 1; c.num_heads = 2; c.channels = 4;
    GPT2 model(c);
    init_gpt2_weights(model, 2);
    const std::string dir = kRoot + "safetensors/tmp";
    fs::create_directories(dir);
    save_model(model, dir + "/model.safetensors");
    const std::string config = read_all(dir + "/config.json"), file = read_all(dir + "/model.safetensors");
    fs::remove_all(dir);
    const std::string length{char(config.size() & 0xFF), char(config.size() >> 8)};
    write_all(kRoot + "safetensors/with_config", length + config + file);
    write_all(kRoot + "safetensors/without_config", std::string(2, '\0') + file);
}

// The state JSON of a 2-step run of each optimizer, behind the byte that selects it in fuzz_resume.
void resume_seeds() {
    const std::string data = kRoot + "resume/data.bin", save = kRoot + "resume/run.bin";
    fuzz::write_resume_shard(data);
    const TokenDataset dataset(data, 16);
    for (size_t m = 0; m < fuzz::resume_methods().size(); ++m) {
        GPT2 model = fuzz::resume_model();
        fuzz::run_resume(m, model, dataset, 2, "", save);
        const TrainState state = load_train_state(state_path_for(save));
        write_all(kRoot + "resume/" + fuzz::resume_methods()[m].first, std::string(1, char(m)) + state.meta.dump());
    }
    for (const std::string& f : {data, save, state_path_for(save)}) fs::remove(f);
}

void brown_seeds() {
    for (const char* name : {"ca01", "ck01"})
        write_all(kRoot + "brown/" + name, read_all(std::string("tests/fixtures/brown_sample/") + name));
}

void flags_seeds() {
    auto args = [](std::vector<std::string> list) {
        std::string out;
        for (size_t i = 0; i < list.size(); ++i) out += (i ? std::string(1, '\0') : "") + list[i];
        return out;
    };
    write_all(kRoot + "flags/typical", args({"--model", "m.bin", "--batch", "8", "--lr", "1e-3", "--json", "--in", "a",
                                             "b", "--params", "layers:0-1,bias,wte", "--momentum=0.5"}));
    write_all(kRoot + "flags/bad_number", args({"--batch", "1e3", "--lr", "nan", "--eps", "-1"}));
    write_all(kRoot + "flags/help", args({"--help"}));
}

}  // namespace

int main() {
    for (const char* target : {"checkpoint", "shard", "train_state", "tokenizer", "tokenizer_bin", "brown", "flags", "resume", "safetensors"})
        fs::create_directories(kRoot + target);
    checkpoint_seeds();
    shard_seeds();
    train_state_seeds();
    tokenizer_seeds();
    brown_seeds();
    flags_seeds();
    resume_seeds();
    safetensors_seeds();
    return 0;
}
