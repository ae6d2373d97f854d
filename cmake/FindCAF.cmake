# FindCAF: locate Debian's libcaf-dev (0.17.x), which ships no CMake package.
#
# Components: core (always), io, openssl. Defines imported targets CAF::core, CAF::io and
# CAF::openssl,
# and CAF_FOUND / CAF_VERSION / CAF_INCLUDE_DIR.
#
# CAF_ROOT (CMake or environment variable) selects another CAF install, for example the
# ThreadSanitizer build made by scripts/build-tsan-caf.sh. It is then the ONLY place
# searched: headers and libraries must come from the same build (a TSan libcaf with
# Debian's headers, or the reverse, would mix two CAFs), so a CAF_ROOT that lacks one
# of them fails instead of quietly falling back to /usr.
include(FindPackageHandleStandardArgs)

if(NOT DEFINED CAF_ROOT AND DEFINED ENV{CAF_ROOT})
  set(CAF_ROOT "$ENV{CAF_ROOT}")
endif()
if(CAF_ROOT)
  set(_caf_search PATHS "${CAF_ROOT}" NO_DEFAULT_PATH)
else()
  set(_caf_search)
endif()
# CAF_INCLUDE_DIR is cached: search again when CAF_ROOT changed since it was found.
if(NOT "${CAF_ROOT}" STREQUAL "${_CAF_ROOT_USED}")
  unset(CAF_INCLUDE_DIR CACHE)
endif()
set(_CAF_ROOT_USED "${CAF_ROOT}" CACHE INTERNAL "CAF_ROOT of the cached CAF_INCLUDE_DIR")

find_path(CAF_INCLUDE_DIR caf/config.hpp PATH_SUFFIXES include ${_caf_search})
if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX MATCH "[0-9]+" _caf_version "${_caf_version_line}")
  if(_caf_version)
    math(EXPR _caf_major "${_caf_version} / 10000")
    math(EXPR _caf_minor "(${_caf_version} / 100) % 100")
    math(EXPR _caf_patch "${_caf_version} % 100")
    set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
  endif()
endif()

set(_caf_required_vars CAF_INCLUDE_DIR)
foreach(_comp core ${CAF_FIND_COMPONENTS})
  if(TARGET CAF::${_comp})
    # Found before (e.g. by the project, then again by find_dependency in our package
    # config): reuse the target, but still report the component as found.
    get_target_property(CAF_${_comp}_LIBRARY CAF::${_comp} IMPORTED_LOCATION)
  else()
    find_library(CAF_${_comp}_LIBRARY NAMES caf_${_comp}
                 PATH_SUFFIXES lib lib64 ${_caf_search} NO_CACHE)
    if(CAF_${_comp}_LIBRARY)
      add_library(CAF::${_comp} UNKNOWN IMPORTED)
      set_target_properties(CAF::${_comp} PROPERTIES
        IMPORTED_LOCATION "${CAF_${_comp}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
      if(NOT _comp STREQUAL "core")
        set_property(TARGET CAF::${_comp} APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::core)
      endif()
      if(_comp STREQUAL "openssl")
        set_property(TARGET CAF::openssl APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::io)
      endif()
    endif()
  endif()
  if(CAF_${_comp}_LIBRARY)
    set(CAF_${_comp}_FOUND TRUE)
  endif()
  list(APPEND _caf_required_vars CAF_${_comp}_LIBRARY)
endforeach()
list(REMOVE_DUPLICATES _caf_required_vars)

if(CAF_ROOT)
  set(_caf_reason "searched only CAF_ROOT=${CAF_ROOT} (include/caf/config.hpp, lib/libcaf_*)")
else()
  set(_caf_reason "install libcaf-dev (scripts/install-deps.sh) or set CAF_ROOT")
endif()
find_package_handle_standard_args(CAF
  REQUIRED_VARS ${_caf_required_vars}
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS
  REASON_FAILURE_MESSAGE "${_caf_reason}")
mark_as_advanced(CAF_INCLUDE_DIR)
