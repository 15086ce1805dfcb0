#include "firmware/sha.h"

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "base/hex.h"

namespace cvm::firmware {
namespace {

// FIPS 180-4 example vectors ("abc").
TEST(ShaTest, KnownAnswers) {
  EXPECT_EQ(to_hex(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha384(as_bytes("abc"))),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
            "8086072ba1e7cc2358baeca134c825a7");
}

TEST(ShaTest, StreamingEqualsOneShot) {
  Sha384Digest streamed{};
  Hasher(HashAlgorithm::kSha384).update(as_bytes("a")).update(as_bytes("bc")).finish(streamed);
  EXPECT_EQ(streamed, sha384(as_bytes("abc")));
}

}  // namespace
}  // namespace cvm::firmware
