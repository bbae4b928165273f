# frozen_string_literal: true

# dtmx for Ruby: the client, branch helpers and sub-transaction barrier of dtmx (a
# DTM-compatible distributed transaction manager) over libdtmx's C API. The x86_64-linux
# gem carries libdtmx; elsewhere set DTMX_LIB to the path of libdtmx.so when it is not on
# the loader's path.
require_relative 'dtmx/version'
require_relative 'dtmx/native'
require_relative 'dtmx/errors'
require_relative 'dtmx/handle'
require_relative 'dtmx/client'
require_relative 'dtmx/saga'
require_relative 'dtmx/msg'
require_relative 'dtmx/tcc'
require_relative 'dtmx/xa'
require_relative 'dtmx/barrier'
require_relative 'dtmx/connection'
require_relative 'dtmx/guard'
require_relative 'dtmx/branch'
require_relative 'dtmx/xa_local'

module Dtmx
  # The version of the loaded libdtmx.
  def self.library_version
    Native.string(Native.dtmx_version)
  end
end
