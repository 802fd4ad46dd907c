#pragma once
// The KV cache shared by every sequence of a model: fp16 K and V rows in fixed-size blocks of
// positions (paged), handed to sequences on demand, so context goes where it is needed instead of
// being split per sequence up front.
//
// It is also the prefix cache. A block whose positions are all computed can be registered under
// the tokens it holds and those before it; another sequence whose tokens start the same way
// attaches the block instead of computing it again. Blocks no sequence uses stay findable until
// their memory is needed (least recently released first).
#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/model_config.h"

namespace infera {

// One sequence's view of the cache: the blocks holding its positions, in order, and how many
// positions are computed. Position p lives in row (blocks[p / block_size] · block_size +
// p % block_size) of every layer's K and V.
struct KvSequence {
  std::vector<int32_t> blocks;
  int64_t n_past = 0;
  // Prefix-cache bookkeeping: blocks already hashed, and the hash of the last of them.
  int64_t n_hashed = 0;
  uint64_t last_hash = 0;
};

class KvCache {
 public:
  // Throws infera::Error when n_blocks or block_size is not positive.
  KvCache(const ModelConfig& cfg, int64_t n_blocks, int64_t block_size);
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t block_size() const { return block_size_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t capacity_tokens() const { return n_blocks_ * block_size_; }
  uint64_t bytes() const;

  // Row widths (fp16 elements) and per-layer storage.
  int64_t k_row() const { return k_row_; }
  int64_t v_row() const { return v_row_; }
  uint16_t* k(int64_t layer) { return k_[static_cast<size_t>(layer)].data(); }
  uint16_t* v(int64_t layer) { return v_[static_cast<size_t>(layer)].data(); }

  // Blocks a reserve() can still take: never used, or cached but held by no sequence.
  int64_t available_blocks() const;
  // Blocks held by at least one sequence.
  int64_t used_blocks() const { return n_blocks_ - available_blocks(); }
  static int64_t blocks_for(int64_t positions, int64_t block_size) {
    return (positions + block_size - 1) / block_size;
  }

  // Grows seq's block table to hold n_positions. False (seq unchanged) when the cache has too few
  // blocks left; cached blocks nobody holds are reused then, oldest first.
  bool reserve(KvSequence& seq, int64_t n_positions);
  // Gives back every block of seq and empties it.
  void release(KvSequence& seq);
  // Forgets positions ≥ n (n ≤ seq.n_past) and the blocks past them. Throws infera::Error when
  // the block that would be written next is shared with another sequence.
  void truncate(KvSequence& seq, int64_t n);

  // Attaches to the empty `seq` the longest run of registered blocks that hold tokens[0, k·B)
  // with k·B < tokens.size() (the last token is always left to compute: its logits are needed).
  // Returns the positions reused (seq.n_past).
  int64_t attach_prefix(KvSequence& seq, std::span<const int32_t> tokens);
  // Registers seq's blocks that are full (below seq.n_past) and not yet findable; `tokens` are
  // the tokens at seq's positions 0 … n_past − 1 (or more).
  void register_full_blocks(KvSequence& seq, std::span<const int32_t> tokens);

 private:
  struct Block {
    int32_t refs = 0;
    uint64_t hash = 0;  // 0: not registered
    uint64_t parent_hash = 0;
    std::vector<int32_t> tokens;             // what it holds, when registered
    std::list<int32_t>::iterator lru_entry;  // valid while registered and refs == 0
  };
  int32_t take_block();  // -1 when none is available
  void unregister(int32_t b);
  uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens) const;
  int32_t find(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const;

  int64_t n_blocks_, block_size_, k_row_, v_row_;
  std::vector<std::vector<uint16_t>> k_, v_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;                         // never used or unregistered, refs == 0
  std::list<int32_t> lru_;                            // registered, refs == 0; front = oldest
  std::unordered_multimap<uint64_t, int32_t> index_;  // hash -> registered block
};

}  // namespace infera
