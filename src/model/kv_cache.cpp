#include "model/kv_cache.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace infera {

KvCache::KvCache(const ModelConfig& cfg, int64_t n_blocks, int64_t block_size)
    : n_blocks_(n_blocks),
      block_size_(block_size),
      k_row_(cfg.n_head_kv * cfg.head_dim_k),
      v_row_(cfg.n_head_kv * cfg.head_dim_v) {
  if (n_blocks <= 0 || block_size <= 0) {
    throw Error(ErrorKind::kInvalidArgument, "a KV cache needs a positive size, got " +
                                                 std::to_string(n_blocks) + " blocks of " +
                                                 std::to_string(block_size) + " positions");
  }
  const auto rows = static_cast<size_t>(n_blocks * block_size);
  k_.assign(static_cast<size_t>(cfg.n_layer), std::vector<uint16_t>(rows * k_row_));
  v_.assign(static_cast<size_t>(cfg.n_layer), std::vector<uint16_t>(rows * v_row_));
  blocks_.resize(static_cast<size_t>(n_blocks));
  // Lowest ids first, so a lone sequence gets blocks in position order.
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

uint64_t KvCache::bytes() const {
  return static_cast<uint64_t>(k_.size()) * static_cast<uint64_t>(capacity_tokens()) *
         static_cast<uint64_t>(k_row_ + v_row_) * 2u;
}

int64_t KvCache::available_blocks() const {
  return static_cast<int64_t>(free_.size() + lru_.size());
}

int32_t KvCache::take_block() {
  int32_t b = -1;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    b = lru_.front();
    unregister(b);  // also drops it from the LRU list
  }
  if (b >= 0) blocks_[static_cast<size_t>(b)].refs = 1;
  return b;
}

void KvCache::unregister(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  if (blk.hash == 0) return;
  auto [lo, hi] = index_.equal_range(blk.hash);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == b) {
      index_.erase(it);
      break;
    }
  }
  if (blk.refs == 0) lru_.erase(blk.lru_entry);
  blk.hash = 0;
  blk.parent_hash = 0;
  blk.tokens.clear();
}

bool KvCache::reserve(KvSequence& seq, int64_t n_positions) {
  const int64_t need =
      blocks_for(n_positions, block_size_) - static_cast<int64_t>(seq.blocks.size());
  if (need <= 0) return true;
  if (need > available_blocks()) return false;
  for (int64_t i = 0; i < need; ++i) seq.blocks.push_back(take_block());
  return true;
}

void KvCache::release(KvSequence& seq) {
  for (int32_t b : seq.blocks) {
    Block& blk = blocks_[static_cast<size_t>(b)];
    if (--blk.refs > 0) continue;
    if (blk.hash != 0) {
      blk.lru_entry = lru_.insert(lru_.end(), b);
    } else {
      free_.push_back(b);
    }
  }
  seq.blocks.clear();
  seq.n_past = 0;
  seq.n_hashed = 0;
  seq.last_hash = 0;
}

void KvCache::truncate(KvSequence& seq, int64_t n) {
  if (n < 0 || n > seq.n_past) {
    throw Error(ErrorKind::kInvalidArgument, "cannot truncate a sequence of " +
                                                 std::to_string(seq.n_past) + " positions to " +
                                                 std::to_string(n));
  }
  const auto keep = static_cast<size_t>(blocks_for(n, block_size_));
  if (n % block_size_ != 0) {
    // The partly kept block will be written again: it must be this sequence's alone.
    const int32_t b = seq.blocks[keep - 1];
    if (blocks_[static_cast<size_t>(b)].refs > 1) {
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot truncate inside a KV block shared with another sequence");
    }
    unregister(b);
  }
  KvSequence tail;
  tail.blocks.assign(seq.blocks.begin() + static_cast<std::ptrdiff_t>(keep), seq.blocks.end());
  seq.blocks.resize(keep);
  release(tail);
  seq.n_past = n;
  seq.n_hashed = 0;  // hashes are recomputed from the start on the next registration
  seq.last_hash = 0;
}

uint64_t KvCache::chain_hash(uint64_t parent, std::span<const int32_t> tokens) const {
  // FNV-1a over the parent's hash and the token ids: blocks with equal hashes are compared by
  // content before they are shared, so collisions cost a miss, never a wrong answer.
  uint64_t h = 1469598103934665603ull ^ parent;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(parent);
  for (int32_t t : tokens) mix(static_cast<uint32_t>(t));
  return h == 0 ? 1 : h;
}

int32_t KvCache::find(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const {
  auto [lo, hi] = index_.equal_range(hash);
  for (auto it = lo; it != hi; ++it) {
    const Block& blk = blocks_[static_cast<size_t>(it->second)];
    if (blk.parent_hash == parent &&
        std::equal(tokens.begin(), tokens.end(), blk.tokens.begin(), blk.tokens.end())) {
      return it->second;
    }
  }
  return -1;
}

int64_t KvCache::attach_prefix(KvSequence& seq, std::span<const int32_t> tokens) {
  if (!seq.blocks.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "a prefix can only be attached to an empty sequence");
  }
  const int64_t max_blocks =
      tokens.empty() ? 0 : (static_cast<int64_t>(tokens.size()) - 1) / block_size_;
  uint64_t parent = 0;
  for (int64_t i = 0; i < max_blocks; ++i) {
    const auto block_tokens =
        tokens.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_));
    const uint64_t h = chain_hash(parent, block_tokens);
    const int32_t b = find(h, parent, block_tokens);
    if (b < 0) break;
    Block& blk = blocks_[static_cast<size_t>(b)];
    if (blk.refs++ == 0) lru_.erase(blk.lru_entry);
    seq.blocks.push_back(b);
    parent = h;
  }
  seq.n_past = static_cast<int64_t>(seq.blocks.size()) * block_size_;
  seq.n_hashed = static_cast<int64_t>(seq.blocks.size());
  seq.last_hash = parent;
  return seq.n_past;
}

void KvCache::register_full_blocks(KvSequence& seq, std::span<const int32_t> tokens) {
  const int64_t full =
      std::min<int64_t>(seq.n_past, static_cast<int64_t>(tokens.size())) / block_size_;
  uint64_t parent = seq.last_hash;
  for (int64_t i = seq.n_hashed; i < full; ++i) {
    const int32_t b = seq.blocks[static_cast<size_t>(i)];
    Block& blk = blocks_[static_cast<size_t>(b)];
    const auto block_tokens =
        tokens.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_));
    const uint64_t h = chain_hash(parent, block_tokens);
    // Another sequence may have computed the same block meanwhile: keep one copy findable.
    if (blk.hash == 0 && find(h, parent, block_tokens) < 0) {
      blk.hash = h;
      blk.parent_hash = parent;
      blk.tokens.assign(block_tokens.begin(), block_tokens.end());
      index_.emplace(h, b);
    }
    parent = h;
  }
  if (full > seq.n_hashed) {
    seq.n_hashed = full;
    seq.last_hash = parent;
  }
}

}  // namespace infera
