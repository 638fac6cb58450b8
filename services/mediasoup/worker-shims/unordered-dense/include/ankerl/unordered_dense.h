// Compatibility shim: the parts of ankerl::unordered_dense (https://github.com/martinus/unordered_dense)
// that mediasoup's worker uses, on top of abseil's flat hash containers from Debian's libabsl-dev.
//
// Both are open-addressing tables without pointer stability, so code written for one holds for
// the other. The one API difference mediasoup relies on: unordered_dense's erase(iterator)
// returns the next iterator, abseil's returns void (erasing never rehashes, so the next
// iterator taken before the erase stays valid).
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ankerl::unordered_dense
{
	template<class T, class Enable = void>
	struct hash
	{
		using is_avalanching = void;

		std::uint64_t operator()(const T& value) const
		{
			return static_cast<std::uint64_t>(absl::Hash<T>{}(value));
		}
	};

	namespace detail
	{
		// Debian builds abseil with its own absl::string_view, so abseil's transparent string
		// hash does not accept std::string_view; unordered_dense's does, and so must ours.
		struct string_hash
		{
			using is_transparent = void;

			std::size_t operator()(std::string_view value) const
			{
				return absl::Hash<std::string_view>{}(value);
			}
		};

		struct string_equal
		{
			using is_transparent = void;

			bool operator()(std::string_view lhs, std::string_view rhs) const
			{
				return lhs == rhs;
			}
		};

		template<class Key>
		struct defaults
		{
			using hasher    = absl::container_internal::hash_default_hash<Key>;
			using key_equal = absl::container_internal::hash_default_eq<Key>;
		};

		template<>
		struct defaults<std::string>
		{
			using hasher    = string_hash;
			using key_equal = string_equal;
		};
	} // namespace detail

	template<
	  class Key,
	  class T,
	  class Hash     = typename detail::defaults<Key>::hasher,
	  class KeyEqual = typename detail::defaults<Key>::key_equal,
	  class Alloc    = std::allocator<std::pair<const Key, T>>>
	class map : public absl::flat_hash_map<Key, T, Hash, KeyEqual, Alloc>
	{
		using base = absl::flat_hash_map<Key, T, Hash, KeyEqual, Alloc>;

	public:
		using base::base;
		using base::erase;

		typename base::iterator erase(typename base::iterator it)
		{
			auto next = std::next(it);
			base::erase(it);
			return next;
		}

		typename base::iterator erase(typename base::const_iterator it)
		{
			return erase(base::find(it->first));
		}
	};

	template<
	  class Key,
	  class Hash     = typename detail::defaults<Key>::hasher,
	  class KeyEqual = typename detail::defaults<Key>::key_equal,
	  class Alloc    = std::allocator<Key>>
	class set : public absl::flat_hash_set<Key, Hash, KeyEqual, Alloc>
	{
		using base = absl::flat_hash_set<Key, Hash, KeyEqual, Alloc>;

	public:
		using base::base;
		using base::erase;

		typename base::iterator erase(typename base::iterator it)
		{
			auto next = std::next(it);
			base::erase(it);
			return next;
		}

		typename base::iterator erase(typename base::const_iterator it)
		{
			return erase(base::find(*it));
		}
	};
} // namespace ankerl::unordered_dense
