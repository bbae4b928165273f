# frozen_string_literal: true

module Dtmx
  VERSION = '0.1.0'
end
