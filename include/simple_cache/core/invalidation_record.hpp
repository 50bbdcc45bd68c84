// The payload of the WAL record that carries one transaction's cache invalidations to the
// standbys (pg/wal_rmgr.hpp logs it, cache/replicated_invalidations.cpp writes and replays it).
// PostgreSQL-free, so that it can be tested and fuzzed without a server.
//
// Layout, all integers little-endian as the machine stores them (WAL is never read by a machine
// of another architecture):
//   uint32 format (kInvalidationFormat)
//   uint32 xid        the top-level transaction that commits the invalidations
//   uint32 database   the database's oid (scopes are numbered per server; oids are not)
//   uint32 items      how many items follow
//   items: uint8 kind (1 key, 2 prefix), uint32 length, then length bytes (the user's key or
//   prefix, without any scope)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace simple_cache::core {

inline constexpr uint32_t kInvalidationFormat = 0x53434931;  // "SCI1"

// What an item invalidates.
enum class InvalidationKind : uint8_t { key = 1, prefix = 2 };

// The fixed part of a record.
struct InvalidationHeader {
    uint32_t format = kInvalidationFormat;
    uint32_t xid = 0;
    uint32_t database = 0;
    uint32_t items = 0;
};

// Builds a record's payload: the header first, then the items as they are added.
class InvalidationRecordWriter {
  public:
    // Starts a payload for a transaction of a database.
    InvalidationRecordWriter(uint32_t xid, uint32_t database)
    {
        header_.xid = xid;
        header_.database = database;
        bytes_.resize(sizeof(InvalidationHeader));
    }

    // Appends an item (may throw std::bad_alloc or std::length_error).
    void add(InvalidationKind kind, const char *data, size_t size)
    {
        uint32_t length = static_cast<uint32_t>(size);
        bytes_.push_back(static_cast<char>(kind));
        bytes_.append(reinterpret_cast<const char *>(&length), sizeof length);
        bytes_.append(data, size);
        ++header_.items;
    }

    // The xid the record will carry (it may be known only after the items were collected).
    void set_xid(uint32_t xid) { header_.xid = xid; }

    // The format word the record will carry: kInvalidationFormat unless a test writes a record
    // of another layout version, as another release of the library would.
    void set_format(uint32_t format) { header_.format = format; }

    uint32_t items() const { return header_.items; }

    // The finished payload; valid until the next add().
    std::string_view payload()
    {
        std::memcpy(bytes_.data(), &header_, sizeof header_);
        return bytes_;
    }

  private:
    InvalidationHeader header_;
    std::string bytes_;
};

// Reads a payload: checks the header and every item's bounds first, then calls
// visit(kind, data, size) for each item. Returns false (and visits nothing) for a payload that
// is not a well-formed record of this format.
template <class Visit>
bool read_invalidation_record(const char *data, size_t size, InvalidationHeader *header, Visit &&visit)
{
    if (size < sizeof(InvalidationHeader))
        return false;
    std::memcpy(header, data, sizeof *header);
    if (header->format != kInvalidationFormat)
        return false;
    auto walk = [&](bool call) {
        size_t at = sizeof(InvalidationHeader);
        for (uint32_t i = 0; i < header->items; ++i) {
            if (size - at < 1 + sizeof(uint32_t))
                return false;
            auto kind = static_cast<InvalidationKind>(data[at]);
            if (kind != InvalidationKind::key && kind != InvalidationKind::prefix)
                return false;
            uint32_t length;
            std::memcpy(&length, data + at + 1, sizeof length);
            at += 1 + sizeof length;
            if (size - at < length)
                return false;
            if (call)
                visit(kind, data + at, static_cast<size_t>(length));
            at += length;
        }
        return at == size;
    };
    if (!walk(false))
        return false;
    walk(true);
    return true;
}

}  // namespace simple_cache::core
