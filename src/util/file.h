// Checked file access: every failure is an nograd::Error naming the path. Output files are written
// to a temporary file beside the target, flushed to disk, then renamed over it, so a crash or a full
// disk never leaves a half-written file where a good one was.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace nograd {

class InputFile {
public:
    explicit InputFile(const std::string& path);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    size_t size() const { return size_; }
    const std::string& path() const { return path_; }
    // Reads exactly `bytes` at the current position; `what` names the part in the error message.
    void read_exact(void* out, size_t bytes, const std::string& what);
    void seek(size_t offset);

private:
    std::string path_;
    FILE* file_ = nullptr;
    size_t size_ = 0;
};

class AtomicOutputFile {
public:
    explicit AtomicOutputFile(const std::string& path);
    ~AtomicOutputFile();  // removes the temporary file unless commit() succeeded
    AtomicOutputFile(const AtomicOutputFile&) = delete;
    AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

    void write(const void* data, size_t bytes);
    // Flushes and fsyncs the temporary file: complete on disk, not yet in place. Two files that belong
    // together (a checkpoint and its training state) are both finished before either is renamed.
    void finish();
    void commit();  // finish() if not done, then rename over the target

private:
    std::string path_, temp_path_;
    FILE* file_ = nullptr;
    bool finished_ = false;
};

// The folder holding `path` ("." for a bare name).
std::string parent_folder(const std::string& path);

// AtomicOutputFile's temporary files are `path` + ".tmp" + the writer's pid. Those left behind by a writer
// that died (its pid no longer runs) are returned: finished ones can complete an interrupted save, the rest
// are litter.
std::string temp_path_prefix(const std::string& path);
std::vector<std::string> leftover_temp_files(const std::string& path);

// Throws nograd::Error naming the flag when `path`'s folder has fewer than `bytes` free: a full disk is
// reported before a long run, not at its first save.
void check_free_space(const std::string& path, size_t bytes, const std::string& flag);

// Checks that a file can be created in `path`'s folder, before a long run depends on it.
void check_writable(const std::string& path, const std::string& flag);

bool file_exists(const std::string& path);

}  // namespace nograd
