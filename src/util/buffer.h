// An owned, 64-byte aligned, uninitialised float array: the parameter buffer, gradients, moments and
// activations. Uninitialised on purpose: a 1.5B-parameter checkpoint is read straight into it, and
// zero-filling first would touch every page twice.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>
#include <span>
#include <utility>

namespace nograd {

template <typename T>
class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(size_t count) : size_(count) {
        if (count == 0) return;
        const size_t bytes = (count * sizeof(T) + 63) / 64 * 64;
        data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
        if (!data_) throw std::bad_alloc();
    }
    AlignedBuffer(AlignedBuffer&& other) noexcept { swap(other); }
    AlignedBuffer& operator=(AlignedBuffer&& other) noexcept { AlignedBuffer(std::move(other)).swap(*this); return *this; }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    ~AlignedBuffer() { std::free(data_); }

    T* data() { return data_; }
    const T* data() const { return data_; }
    size_t size() const { return size_; }
    T& operator[](size_t i) { return data_[i]; }
    const T& operator[](size_t i) const { return data_[i]; }
    std::span<T> span() { return {data_, size_}; }
    std::span<const T> span() const { return {data_, size_}; }
    void fill(T value) { for (size_t i = 0; i < size_; ++i) data_[i] = value; }

private:
    void swap(AlignedBuffer& other) noexcept { std::swap(data_, other.data_); std::swap(size_, other.size_); }
    T* data_ = nullptr;
    size_t size_ = 0;
};

using FloatBuffer = AlignedBuffer<float>;

}  // namespace nograd
