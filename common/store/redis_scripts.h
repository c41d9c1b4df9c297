/*
 * redis_scripts - the Redis engine's Lua scripts, as C strings
 *
 * The definitions are generated at build time from the .lua files of
 * common/store/redis/ (see store.am: redis_scripts.c is written in the
 * build directory and is never committed nor distributed; the .lua files
 * are).  Each script NAME.lua gives redis_lua_NAME (its text,
 * NUL-terminated) and redis_lua_NAME_len (its length without the NUL).  Read the .lua files, not the generated C.
 */
#ifndef CHAPPS_REDIS_SCRIPTS_H
#define CHAPPS_REDIS_SCRIPTS_H

#include <stddef.h>

extern const char redis_lua_quota[];
extern const size_t redis_lua_quota_len;
extern const char redis_lua_greylist[];
extern const size_t redis_lua_greylist_len;
extern const char redis_lua_limits[];
extern const size_t redis_lua_limits_len;
extern const char redis_lua_lock[];
extern const size_t redis_lua_lock_len;

#endif
