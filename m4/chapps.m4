dnl chapps.m4 - configure probes that have no pkg-config file everywhere.

dnl CHAPPS_CHECK_PTHREAD: find how to build and link threaded code.
AC_DEFUN([CHAPPS_CHECK_PTHREAD], [
  PTHREAD_CFLAGS=-pthread
  save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS $PTHREAD_CFLAGS"
  AC_SEARCH_LIBS([pthread_create], [pthread], [],
    [AC_MSG_ERROR([POSIX threads are required])])
  CFLAGS=$save_CFLAGS
  PTHREAD_LIBS="-pthread"
  AC_SUBST([PTHREAD_CFLAGS])
  AC_SUBST([PTHREAD_LIBS])
])

dnl CHAPPS_CHECK_MILTER: locate libmilter (mfapi.h and -lmilter).
dnl --with-milter=PATH looks in PATH/include and PATH/lib.
AC_DEFUN([CHAPPS_CHECK_MILTER], [
  AC_ARG_WITH([milter],
    [AS_HELP_STRING([--with-milter=PATH], [prefix where libmilter is installed])],
    [milter_prefix=$withval], [milter_prefix=])
  MILTER_CPPFLAGS=
  MILTER_LDFLAGS=
  AS_IF([test -n "$milter_prefix" && test "x$milter_prefix" != xyes],
    [MILTER_CPPFLAGS="-I$milter_prefix/include"
     AS_IF([test -d "$milter_prefix/lib64"],
       [MILTER_LDFLAGS="-L$milter_prefix/lib64"],
       [MILTER_LDFLAGS="-L$milter_prefix/lib"])])
  save_CPPFLAGS=$CPPFLAGS; save_LDFLAGS=$LDFLAGS; save_LIBS=$LIBS
  CPPFLAGS="$CPPFLAGS $MILTER_CPPFLAGS"
  LDFLAGS="$LDFLAGS $MILTER_LDFLAGS -pthread"
  LIBS=
  AC_CHECK_HEADER([libmilter/mfapi.h], [],
    [AC_MSG_ERROR([libmilter/mfapi.h not found (Debian: libmilter-dev; or --with-milter=PATH)])])
  AC_SEARCH_LIBS([smfi_register], [milter], [],
    [AC_MSG_ERROR([libmilter not found (Debian: libmilter-dev; or --with-milter=PATH)])])
  AC_CHECK_FUNCS([smfi_setsymlist smfi_opensocket smfi_version smfi_insheader smfi_setmlreply])
  MILTER_LIBS="$MILTER_LDFLAGS $LIBS"
  CPPFLAGS=$save_CPPFLAGS; LDFLAGS=$save_LDFLAGS; LIBS=$save_LIBS
  AC_SUBST([MILTER_CPPFLAGS])
  AC_SUBST([MILTER_LIBS])
])
