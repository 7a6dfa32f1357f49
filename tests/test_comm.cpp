// The communicator's own logic, on one process: how items are dealt out to ranks, the single-process
// collectives (copies), and the setup rule. The multi-process behaviour is tested by test_mpi.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "util/comm.h"
#include "util/error.h"

using namespace nograd;

TEST_SUITE("util") {
    TEST_CASE("block_of deals items out in contiguous blocks, in rank order, differing by at most one") {
        for (size_t count = 0; count <= 23; ++count) {
            for (int size = 1; size <= 7; ++size) {
                CAPTURE(count);
                CAPTURE(size);
                size_t next = 0, smallest = count, largest = 0;
                for (int rank = 0; rank < size; ++rank) {
                    const Block b = block_of(count, rank, size);
                    CHECK(b.begin == next);
                    CHECK(b.end >= b.begin);
                    next = b.end;
                    smallest = std::min(smallest, b.size());
                    largest = std::max(largest, b.size());
                    if (rank > 0) CHECK(b.size() <= block_of(count, rank - 1, size).size());  // larger first
                }
                CHECK(next == count);
                CHECK(largest - smallest <= 1);
            }
        }
    }

    TEST_CASE("one process: collectives are copies, nothing is sent, the setup rule rethrows its own error") {
        Communicator alone = Communicator::single_process();
        CHECK(alone.rank() == 0);
        CHECK(alone.size() == 1);
        const std::vector<double> values = {1.5, -2.0, 3.25};
        CHECK(alone.allgather_blocks(values, values.size()) == values);
        const std::vector<uint64_t> words = {7, 9};
        CHECK(alone.allgather(words) == words);
        std::vector<float> gradient = {0.5f, 1.0f};
        alone.allreduce_sum(gradient);
        CHECK(gradient == std::vector<float>{0.5f, 1.0f});
        CHECK(alone.any(true));
        CHECK(!alone.any(false));
        alone.barrier();
        CHECK(alone.bytes_sent() == 0);

        CHECK_NOTHROW(setup_together(alone, [] {}));
        CHECK_THROWS_WITH_AS(setup_together(alone, [] { throw UsageError("--train: expected a pattern"); }),
                             "--train: expected a pattern", UsageError);
        CHECK_THROWS_AS(setup_together(alone, [] { throw std::runtime_error("other"); }), std::runtime_error);
    }
}
