#include "util/file.h"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

namespace nograd {

InputFile::InputFile(const std::string& path) : path_(path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw file_error(path, "a file", "a directory");
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) throw Error(path + ": cannot open: " + std::strerror(errno));
    size_ = size_t(st.st_size);
}

InputFile::~InputFile() {
    if (file_) std::fclose(file_);
}

void InputFile::read_exact(void* out, size_t bytes, const std::string& what) {
    if (bytes == 0) return;
    const size_t got = std::fread(out, 1, bytes, file_);
    if (got != bytes)
        throw file_error(path_, std::to_string(bytes) + " bytes of " + what, std::to_string(got) + " (file too short)");
}

void InputFile::seek(size_t offset) {
    if (fseeko(file_, off_t(offset), SEEK_SET) != 0) throw Error(path_ + ": cannot seek: " + std::strerror(errno));
}

AtomicOutputFile::AtomicOutputFile(const std::string& path)
    : path_(path), temp_path_(path + ".tmp" + std::to_string(getpid())) {
    file_ = std::fopen(temp_path_.c_str(), "wb");
    if (!file_) throw Error(path + ": cannot write (" + temp_path_ + "): " + std::strerror(errno));
}

AtomicOutputFile::~AtomicOutputFile() {
    if (file_) std::fclose(file_);
    if (!temp_path_.empty()) std::remove(temp_path_.c_str());
}

void AtomicOutputFile::write(const void* data, size_t bytes) {
    if (std::fwrite(data, 1, bytes, file_) != bytes)
        throw Error(path_ + ": write failed (" + std::strerror(errno) + "); the previous file, if any, is untouched");
}

void AtomicOutputFile::finish() {
    if (finished_) return;
    const bool ok = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
    const int saved_errno = errno;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed)
        throw Error(path_ + ": write failed (" + std::strerror(ok ? errno : saved_errno) +
                    "); the previous file, if any, is untouched");
    finished_ = true;
}

void AtomicOutputFile::commit() {
    finish();
    if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
        throw Error(path_ + ": cannot rename " + temp_path_ + " over it: " + std::strerror(errno));
    temp_path_.clear();  // nothing left to clean up
}

void check_writable(const std::string& path, const std::string& flag) {
    const std::string probe = path + ".probe" + std::to_string(getpid());
    FILE* f = std::fopen(probe.c_str(), "wb");
    if (!f) throw Error(flag + " " + path + ": cannot create files there: " + std::strerror(errno));
    std::fclose(f);
    std::remove(probe.c_str());
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

}  // namespace nograd
