# frozen_string_literal: true

# canihaz_test: one test, the file <tests_dir>/<name>.conf, checked by `canihaz check` before it
# replaces the one in place. Sensitive: its content (header values may be tokens) is never logged.
#
#   canihaz_test 'search' do
#     frequency 600
#     destination %w(statsd graphite)
#     fields('url' => 'http://10.0.0.8/search?q=a|b', 'header' => ['Accept: application/json'])
#   end
#   canihaz_test 'team-a' do
#     content "home|http|60|statsd|url=http://127.0.0.1:8080/health\n"
#   end

unified_mode true
provides :canihaz_test

property :test_name, String, name_property: true, regex: /\A[A-Za-z0-9_-]{1,64}\z/
property :test_type, String, default: 'http', regex: /\A[a-z][a-z0-9_-]*\z/
property :frequency, Integer, callbacks: { 'must be 0 or more' => ->(f) { f >= 0 } }
property :destination, [String, Array]
# key => value, or key => [values] to repeat a key (header). A literal | is written %7C for you.
property :fields, Hash, default: {}
# The file's lines as in the tests file, instead of the properties above.
property :content, String
property :tests_dir, String, default: lazy { node['canihaz']['tests_dir'] }

default_action :create

action_class do
  def test_line
    if new_resource.content
      return new_resource.content.end_with?("\n") ? new_resource.content : "#{new_resource.content}\n"
    end
    if new_resource.frequency.nil? || new_resource.destination.nil?
      raise ArgumentError, "canihaz_test[#{new_resource.name}]: frequency and destination are required (or give content)"
    end
    fields = new_resource.fields.flat_map do |key, values|
      Array(values).map do |value|
        if value.to_s =~ /[\r\n]/
          raise ArgumentError, "canihaz_test[#{new_resource.name}]: fields #{key}: a value must not contain a line break"
        end
        "#{key}=#{value.to_s.gsub('|', '%7C')}"
      end
    end
    [new_resource.test_name, new_resource.test_type, new_resource.frequency.to_s,
     Array(new_resource.destination).join(','), *fields].join('|')
  end
end

action :create do
  template ::File.join(new_resource.tests_dir, "#{new_resource.name}.conf") do
    cookbook 'canihaz'
    source 'test.conf.erb'
    owner 'root'
    group 'root'
    mode '0644'
    variables(test_name: new_resource.test_name, line: test_line.chomp)
    sensitive true
    verify '/usr/bin/canihaz check --config %{path}'
  end
end

action :delete do
  file ::File.join(new_resource.tests_dir, "#{new_resource.name}.conf") do
    action :delete
  end
end
