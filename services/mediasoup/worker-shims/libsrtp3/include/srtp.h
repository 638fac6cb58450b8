/*
 * Our adapter: mediasoup >= 3.16 is written against the libsrtp 3 API, Debian 12 ships
 * libsrtp 2.5. This header stands in for <srtp.h>: it includes the 2.x header and adds the
 * few libsrtp 3 calls and error codes mediasoup uses, implemented over the 2.x calls.
 *
 * Differences bridged:
 *  - 3.x protect/unprotect take separate input and output buffers and size_t lengths;
 *    2.x works in place with int lengths. We copy into the output buffer first (when it
 *    differs) and run the 2.x call there.
 *  - 3.x reports a too small output buffer as srtp_err_status_buffer_small, 2.x just
 *    assumes the room is there, so we check it up front.
 *  - 3.x renamed srtp_remove_stream() to srtp_stream_remove().
 *  - 3.x (from the 2025 betas mediasoup >= 3.2x uses) makes srtp_policy_t an opaque handle
 *    built with srtp_policy_create() / _set_*() / _add_key(); 2.x has a plain struct of the
 *    same name. We include the 2.x header with its struct renamed (voicebot_srtp2_policy_t:
 *    the 2.x functions are C, so the name does not reach the linker) and implement the
 *    handle as that struct plus the key+salt buffer it points to.
 *
 * The extra functions are C++ overloads (the 2.x C functions keep their C linkage), so the
 * header is for C++ translation units only, which is all mediasoup includes it from.
 */
#ifndef VOICEBOT_SRTP3_ON_SRTP2_H
#define VOICEBOT_SRTP3_ON_SRTP2_H

#define srtp_policy_t voicebot_srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t

#ifdef __cplusplus

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

/* Error codes libsrtp 3 added after srtp_err_status_pkt_idx_adv (27). The enum's value range
 * covers them (it needs 5 bits), so the conversion is well defined. */
constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
constexpr srtp_err_status_t srtp_err_status_cryptex_err = static_cast<srtp_err_status_t>(29);

namespace voicebot_srtp_shim
{
	using InPlaceFn = srtp_err_status_t (*)(srtp_t, void*, int*);

	/* Copies `in` to `out` (unless it is the same buffer), checks that `out` can hold
	 * `in_len + room` bytes, runs the in-place 2.x call and stores the resulting length. */
	inline srtp_err_status_t Run(
	  InPlaceFn fn,
	  srtp_t ctx,
	  const uint8_t* in,
	  size_t in_len,
	  uint8_t* out,
	  size_t* out_len,
	  size_t room)
	{
		if (in == nullptr || out == nullptr || out_len == nullptr)
			return srtp_err_status_bad_param;
		if (in_len > static_cast<size_t>(INT_MAX) - room)
			return srtp_err_status_bad_param;
		if (*out_len < in_len + room)
			return srtp_err_status_buffer_small;

		if (out != in)
			std::memmove(out, in, in_len);

		int len = static_cast<int>(in_len);
		const srtp_err_status_t err = fn(ctx, out, &len);

		if (err == srtp_err_status_ok)
			*out_len = static_cast<size_t>(len);

		return err;
	}
} // namespace voicebot_srtp_shim

/* SRTCP adds the 4-byte E flag + index on top of the auth tag (and MKI). */
constexpr size_t VoicebotSrtcpTrailerLen = SRTP_MAX_TRAILER_LEN + 4;

inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtp_len, uint8_t* srtp, size_t* srtp_len, size_t mki_index)
{
	if (mki_index != 0)
		return srtp_err_status_bad_mki;

	return voicebot_srtp_shim::Run(
	  ::srtp_protect, ctx, rtp, rtp_len, srtp, srtp_len, SRTP_MAX_TRAILER_LEN);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtp_len, uint8_t* rtp, size_t* rtp_len)
{
	return voicebot_srtp_shim::Run(::srtp_unprotect, ctx, srtp, srtp_len, rtp, rtp_len, 0);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcp_len, uint8_t* srtcp, size_t* srtcp_len, size_t mki_index)
{
	if (mki_index != 0)
		return srtp_err_status_bad_mki;

	return voicebot_srtp_shim::Run(
	  ::srtp_protect_rtcp, ctx, rtcp, rtcp_len, srtcp, srtcp_len, VoicebotSrtcpTrailerLen);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcp_len, uint8_t* rtcp, size_t* rtcp_len)
{
	return voicebot_srtp_shim::Run(::srtp_unprotect_rtcp, ctx, srtcp, srtcp_len, rtcp, rtcp_len, 0);
}

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}

struct VoicebotSrtpPolicy
{
	voicebot_srtp2_policy_t policy{};
	unsigned char key[SRTP_MAX_KEY_LEN]{};
};

typedef VoicebotSrtpPolicy* srtp_policy_t;

inline srtp_err_status_t srtp_policy_create(srtp_policy_t* policy)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	*policy = new (std::nothrow) VoicebotSrtpPolicy();
	if (*policy == nullptr)
		return srtp_err_status_alloc_fail;

	(*policy)->policy.key = (*policy)->key;

	return srtp_err_status_ok;
}

inline void srtp_policy_destroy(srtp_policy_t policy)
{
	delete policy;
}

inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t policy, srtp_ssrc_t ssrc)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.ssrc = ssrc;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t policy, srtp_profile_t profile)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	const srtp_err_status_t err =
	  srtp_crypto_policy_set_from_profile_for_rtp(&policy->policy.rtp, profile);
	if (err != srtp_err_status_ok)
		return err;

	return srtp_crypto_policy_set_from_profile_for_rtcp(&policy->policy.rtcp, profile);
}

/* 2.x wants the master key and salt as one buffer, key first. No MKI support needed. */
inline srtp_err_status_t srtp_policy_add_key(
  srtp_policy_t policy,
  const uint8_t* key,
  size_t key_len,
  const uint8_t* salt,
  size_t salt_len,
  const uint8_t* mki,
  size_t mki_len)
{
	if (policy == nullptr || key == nullptr || salt == nullptr)
		return srtp_err_status_bad_param;
	if (mki != nullptr || mki_len != 0)
		return srtp_err_status_bad_mki;
	if (key_len + salt_len > sizeof(policy->key))
		return srtp_err_status_bad_param;

	std::memcpy(policy->key, key, key_len);
	std::memcpy(policy->key + key_len, salt, salt_len);

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t policy, bool allow)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.allow_repeat_tx = allow ? 1 : 0;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t policy, size_t window_size)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.window_size = window_size;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_create(srtp_t* session, srtp_policy_t policy)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	return srtp_create(session, &policy->policy);
}

#endif /* __cplusplus */

#endif /* VOICEBOT_SRTP3_ON_SRTP2_H */
